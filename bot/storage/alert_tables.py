"""Tables of breaking and topic alerts (migration 0004; 0011 adds ``count_reprints``).

* ``alert_settings``: a channel's breaking-alert settings (and the role its alerts mention).
* ``alert_keywords``: a channel's topic keywords.
* ``channel_alerts``: what each channel was already told about each story.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from bot.storage.schema import ID_TYPE, UTCDateTime, metadata

alert_settings = Table(
    "alert_settings",
    metadata,
    Column("channel_id", BigInteger, primary_key=True, autoincrement=False),
    Column("guild_id", BigInteger, nullable=True),
    Column("breaking_enabled", Boolean, nullable=False),
    Column("min_sources", Integer, nullable=False),
    Column("window_minutes", Integer, nullable=False),
    # Mentioned with every alert of the channel; NULL mentions nobody.
    Column("role_id", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Whether each word-for-word reprint of a story counts as its own outlet (migration 0011).
    Column("count_reprints", Boolean, nullable=False, server_default=false()),
)

alert_keywords = Table(
    "alert_keywords",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("channel_id", BigInteger, nullable=False),
    Column("guild_id", BigInteger, nullable=True),
    # As typed, whitespace collapsed (bot.alerts.KeywordAlert); unique per channel case-insensitively.
    Column("keyword", Text, nullable=False),
    # casefold() of the keyword: the uniqueness key.
    Column("keyword_key", Text, nullable=False),
    Column("created_by", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel_id", "keyword_key"),
)

channel_alerts = Table(
    "channel_alerts",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("channel_id", BigInteger, nullable=False),
    Column("guild_id", BigInteger, nullable=True),
    Column("story_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    # Distinct outlets the alert message shows.
    Column("source_count", Integer, nullable=False),
    # The outbox row of the post; its edits' rows name it (Destination.edit_of).
    Column("dedup_key", Text, nullable=False),
    # No longer written: the outbox row holds the message id, and edits find it there.
    Column("message_id", BigInteger, nullable=True),
    Column("alerted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('breaking', 'keyword')", name="kind"),
    UniqueConstraint("channel_id", "story_id", "kind"),
    Index("ix_channel_alerts_story_id", "story_id"),
)
