"""Tables behind post destinations (migration 0010).

``channel_webhooks``: the one webhook the bot made in a channel, reused for every branded post
there (its token is a secret: it lets anyone post in the channel). ``story_threads``: the
thread opened in a channel for a story's first post, where the story's later outlets go.

Registered on :data:`bot.storage.schema.metadata` by importing this module, which
``bot.storage`` does, so alembic and the schema test see it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Table, Text

from bot.storage.schema import UTCDateTime, metadata

channel_webhooks = Table(
    "channel_webhooks",
    metadata,
    Column("channel_id", BigInteger, primary_key=True, autoincrement=False),
    Column("guild_id", BigInteger, nullable=True),
    Column("webhook_id", BigInteger, nullable=False),
    Column("token", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

story_threads = Table(
    "story_threads",
    metadata,
    Column("channel_id", BigInteger, primary_key=True, autoincrement=False),
    # The story grouper's id ("s42"), as feed_items.story_id holds it.
    Column("story_id", Text, primary_key=True),
    Column("thread_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
