"""Storage: the database handle, migrations, and one repository per domain.

>>> db = Database("sqlite+aiosqlite:///./data/newsdesk.db")
>>> await db.upgrade()
>>> cache = ArticleCache(db)
>>> await cache.put(url, article, fetched_at=now)
>>> await cache.get(url, now=now, max_age_s=settings.cache.article_ttl_s)
>>> await db.close()

Each domain has its store (:class:`FeedStore`, :class:`OutboxStore`, :class:`StoryStore`,
:class:`AlertStore`, :class:`DigestStore`, ...), built once by :class:`bot.core.Newsdesk` and
handed to the services, which type against these classes and hold no SQL of their own.
"""

from bot.errors import StorageError

# Importing a *_tables module registers its tables on schema.metadata, which alembic
# (env.py) and the schema test compare with the migrations: list each one here.
from bot.storage import (  # noqa: F401
    alert_tables,
    destination_tables,
    digest_tables,
    feed_tables,
    instance_tables,
    outbox_tables,
    story_tables,
)
from bot.storage.alerts import AlertStore
from bot.storage.article_cache import ArticleCache, CachedArticle
from bot.storage.database import Database
from bot.storage.digests import DigestStore
from bot.storage.feed_records import SubscriptionStatus
from bot.storage.feeds import FeedStore
from bot.storage.guild_settings import GuildSettingsStore
from bot.storage.migrate import head_revision
from bot.storage.outbox import ChannelHold, OutboxMessage, OutboxRow, OutboxStore
from bot.storage.stories import StoryStore

__all__ = [
    "AlertStore",
    "ArticleCache",
    "CachedArticle",
    "ChannelHold",
    "Database",
    "DigestStore",
    "FeedStore",
    "GuildSettingsStore",
    "OutboxMessage",
    "OutboxRow",
    "OutboxStore",
    "StorageError",
    "StoryStore",
    "SubscriptionStatus",
    "head_revision",
]
