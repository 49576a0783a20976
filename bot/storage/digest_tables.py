"""The digest schedules table (migration 0004): one schedule per channel, with its next due time."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, Table, Text

from bot.storage.schema import ID_TYPE, UTCDateTime, metadata

digest_schedules = Table(
    "digest_schedules",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=True),
    Column("channel_id", BigInteger, nullable=False, unique=True),
    # bot.digests.DigestSchedule, one column per field.
    Column("kind", Text, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("minute", Integer, nullable=False),
    Column("day_of_week", Integer, nullable=True),
    Column("every_hours", Integer, nullable=True),
    Column("timezone", Text, nullable=False),
    Column("top_n", Integer, nullable=False, server_default="10"),
    Column("next_due_at", UTCDateTime, nullable=False),
    # Where the next digest's period starts: the end of the last one posted.
    Column("last_posted_at", UTCDateTime, nullable=True),
    Column("created_by", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    CheckConstraint("kind IN ('daily', 'weekly', 'every_hours')", name="kind"),
    CheckConstraint("status IN ('active', 'paused')", name="status"),
    Index("ix_digest_schedules_next_due_at", "next_due_at"),
)
