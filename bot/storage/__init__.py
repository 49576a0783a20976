"""Storage: the database handle, migrations, and one repository per domain.

>>> db = Database("sqlite+aiosqlite:///./data/newsdesk.db")
>>> await db.upgrade()
>>> cache = ArticleCache(db)
>>> await cache.put(url, article, fetched_at=now)
>>> await cache.get(url, now=now, max_age_s=settings.cache.article_ttl_s)
>>> await db.close()

Services type against the Protocols in :mod:`bot.storage.interfaces`.
"""

from bot.errors import StorageError

# Importing a *_tables module registers its tables on schema.metadata, which alembic
# (env.py) and the schema test compare with the migrations: list each one here.
from bot.storage import feed_tables, outbox_tables, story_tables  # noqa: F401
from bot.storage.article_cache import ArticleCache
from bot.storage.database import Database
from bot.storage.feeds import FeedStore, SubscriptionStatus
from bot.storage.guild_settings import GuildSettingsStore
from bot.storage.interfaces import CachedArticle
from bot.storage.migrate import head_revision
from bot.storage.outbox import ChannelHold, OutboxMessage, OutboxRow, OutboxStore

__all__ = [
    "ArticleCache",
    "CachedArticle",
    "ChannelHold",
    "Database",
    "FeedStore",
    "GuildSettingsStore",
    "OutboxMessage",
    "OutboxRow",
    "OutboxStore",
    "StorageError",
    "SubscriptionStatus",
    "head_revision",
]
