"""Tables of the post outbox (migration 0002).

``outbox`` holds one row per message to post, written before sending and
marked sent (with Discord's message id) after, so a crash loses nothing.
``outbox_holds`` lists channels the bot cannot post to any more; their rows
wait (status ``pending``) until the channel is released.

Registered on :data:`bot.storage.schema.metadata` by importing this module,
which ``bot.storage`` does, so alembic and the schema test see it.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Table, Text, text

from bot.storage.schema import UTCDateTime, metadata

#: ``BIGINT PRIMARY KEY`` is not SQLite's rowid alias, so it would not autoincrement.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    metadata,
    # Order of delivery within a channel; never reused (AUTOINCREMENT on SQLite),
    # because the Discord nonce is derived from it.
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("channel_id", BigInteger, nullable=False),
    # None for DMs; also the shard key (Discord's shard formula uses the guild).
    Column("guild_id", BigInteger, nullable=True),
    # "feed_item" | "digest" | "alert" | "notice": for status commands and logs.
    Column("kind", Text, nullable=False),
    # Enqueueing the same key twice is a no-op.
    Column("dedup_key", Text, nullable=False, unique=True),
    # MessageSpec.to_dict(); only ever read whole.
    Column("spec", JSON, nullable=False),
    # bot.delivery.destination.Destination.to_json(); NULL: the bot's own plain message.
    Column("destination", JSON, nullable=True),
    # "pending" | "sent" | "failed" | "cancelled".
    Column("status", Text, nullable=False),
    # Sends tried so far (each claim counts one).
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Not claimed before this time (retry backoff, 429 Retry-After).
    Column("next_attempt_at", UTCDateTime, nullable=False),
    # Which dispatcher holds the row, until when; an expired lease is free again.
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("message_id", BigInteger, nullable=True),
    # The claim query looks for the oldest pending row of each channel.
    Index(
        "ix_outbox_pending_channel_id_id",
        "channel_id",
        "id",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # purge() deletes finished rows by age.
    Index("ix_outbox_status_created_at", "status", "created_at"),
    sqlite_autoincrement=True,
)

outbox_holds = Table(
    "outbox_holds",
    metadata,
    Column("channel_id", BigInteger, primary_key=True, autoincrement=False),
    # Why the channel is held ("Missing Access"), for status commands.
    Column("reason", Text, nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
)
