"""Delivery of posts to channels through a persistent outbox."""
