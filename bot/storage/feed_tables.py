"""Tables of feed subscriptions (migration 0003): feeds, subscriptions and the items seen.

One ``feeds`` row per unique feed URL, however many channels follow it: the poller fetches
each row once and fans the result out to the ``subscriptions``. ``feed_items`` remembers every
entry a feed has shown (dedup across restarts), and keeps enough of it for story grouping and
digests later.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
)

from bot.storage.schema import UTCDateTime, metadata

feeds = Table(
    "feeds",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # The resolved feed URL (after redirects, normalised): one row per URL, whoever follows it.
    Column("url", Text, nullable=False, unique=True),
    Column("title", Text, nullable=True),
    Column("site_url", Text, nullable=True),
    Column("icon_url", Text, nullable=True),
    # Validators for the next conditional GET, and the hash of the last body parsed: an
    # unchanged feed is never parsed again.
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("body_hash", Text, nullable=True),
    # The feed's own "nothing new before" hint (<ttl>, sy:updatePeriod) in seconds, kept so a
    # 304 (nothing parsed) still schedules by it.
    Column("update_hint_s", Integer, nullable=True),
    Column("next_check_at", UTCDateTime, nullable=False),
    Column("last_checked_at", UTCDateTime, nullable=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="active"),
    Column("paused_reason", Text, nullable=True),
    # Set while one poller process works on the feed, so another one skips it; the owner
    # (migration 0005) names that poller, which takes its leases back when it restarts.
    Column("lease_until", UTCDateTime, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'paused')", name="status"),
    Index("ix_feeds_next_check_at", "next_check_at"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("feed_id", BigInteger, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("guild_id", BigInteger, nullable=True),
    Column("channel_id", BigInteger, nullable=False),
    Column("created_by", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Filter patterns as the user typed them (EntryFilter compiles them); only read whole.
    Column("include", JSON, nullable=False),
    Column("exclude", JSON, nullable=False),
    Column("extract", Boolean, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="active"),
    Column("paused_reason", Text, nullable=True),
    # The subscription's own post template (bot/templates), None: the server's default.
    Column("template", JSON, nullable=True),
    # A role pinged on each new post (only those matching mention_include, when set).
    Column("mention_role_id", BigInteger, nullable=True),
    Column("mention_include", JSON, nullable=True),
    # Webhook and thread options (bot.feeds.destinations.PostDelivery as JSON); NULL: the default.
    Column("delivery", JSON, nullable=True),
    CheckConstraint("status IN ('active', 'paused')", name="status"),
    UniqueConstraint("feed_id", "channel_id"),
    Index("ix_subscriptions_guild_id", "guild_id"),
    Index("ix_subscriptions_channel_id", "channel_id"),
)

feed_items = Table(
    "feed_items",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("feed_id", BigInteger, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    # bot.feeds.entry_key / link_key: the identity the dedup decision uses.
    Column("entry_key", Text, nullable=False),
    Column("link_key", Text, nullable=True),
    Column("title", Text, nullable=True),
    Column("url", Text, nullable=True),
    Column("summary", Text, nullable=True),
    Column("image_url", Text, nullable=True),
    Column("author", Text, nullable=True),
    Column("published_at", UTCDateTime, nullable=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("feed_id", "entry_key"),
    Index("ix_feed_items_feed_id_link_key", "feed_id", "link_key"),
    # Story grouping and digests read the recent items of all feeds.
    Index("ix_feed_items_first_seen_at", "first_seen_at"),
)
