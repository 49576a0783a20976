"""Tables of stories, digests and alerts (migration 0004).

* ``feed_items.story_id``: the story each item was grouped into (NULL until the assigner has seen
  it). The column is appended here to the ``feed_items`` table of :mod:`bot.storage.feed_tables`,
  which belongs to the feeds domain: the feeds code never reads or writes it.
* ``stories``: one row per story, a summary for listings (the items carry the detail).
* ``grouper_state``: the story grouper's state, saved now and then (see
  :mod:`bot.stories.service`), so grouping survives restarts.
* ``service_leases``: which process runs a singleton background job (the story assigner).
* ``digest_schedules``: one digest schedule per channel, with its next due time.
* ``alert_settings``, ``alert_keywords``, ``channel_alerts``: breaking and topic alerts, and what
  each channel was already told about each story.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
)

from bot.storage.feed_tables import feed_items
from bot.storage.schema import UTCDateTime, metadata

#: ``BIGINT PRIMARY KEY`` is not SQLite's rowid alias, so it would not autoincrement.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")

# --- stories ------------------------------------------------------------------------

feed_items.append_column(Column("story_id", Text, nullable=True))
# The assigner looks for NULLs; digests and alerts look items up by story.
Index("ix_feed_items_story_id", feed_items.c.story_id)

stories = Table(
    "stories",
    metadata,
    # The grouper's id ("s42"): stable across restarts because the grouper's counter is saved.
    Column("id", Text, primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("item_count", Integer, nullable=False),
    # Distinct outlets (bot.digests.outlet_key), across every feed the bot polls.
    Column("source_count", Integer, nullable=False),
    # The first item's headline, for listings and logs.
    Column("title", Text, nullable=True),
    Index("ix_stories_last_seen_at", "last_seen_at"),
)

grouper_state = Table(
    "grouper_state",
    metadata,
    Column("name", Text, primary_key=True),
    # zlib-compressed JSON of StoryGrouper.to_state(); encoded off the event loop, so not a JSON column.
    Column("state", LargeBinary, nullable=False),
    # The highest feed_items.id the state has seen: items after it are replayed on load.
    Column("last_item_id", BigInteger, nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

service_leases = Table(
    "service_leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
)

# --- digests ------------------------------------------------------------------------

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

# --- alerts -------------------------------------------------------------------------

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
    # The outbox row of the post; its message id is copied here once sent.
    Column("dedup_key", Text, nullable=False),
    Column("message_id", BigInteger, nullable=True),
    Column("alerted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('breaking', 'keyword')", name="kind"),
    UniqueConstraint("channel_id", "story_id", "kind"),
    Index("ix_channel_alerts_story_id", "story_id"),
)
