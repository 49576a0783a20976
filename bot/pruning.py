"""Pruning: deletes outbox rows, cached articles and story threads past their retention.

Idempotent, so every worker may run it; each cleanup is guarded on its own so one failing does
not skip the other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.storage import ArticleCache
from bot.storage.outbox import OutboxStore
from bot.storage.story_threads import STORY_THREAD_RETENTION, StoryThreadStore

log = logging.getLogger(__name__)

#: Sent posts are kept this long. Re-posting is prevented by the feeds' own seen-items table, so
#: the outbox only needs its rows while they may still be re-sent or inspected.
OUTBOX_RETENTION = timedelta(days=14)
#: How often a worker prunes (and once when it starts).
PRUNE_EVERY_S = 6 * 3600


async def prune(
    outbox: OutboxStore,
    article_cache: ArticleCache,
    *,
    now: datetime,
    article_ttl: timedelta,
    story_threads: StoryThreadStore,
) -> None:
    """Delete what is past its retention at ``now``."""
    try:
        purged = await outbox.purge(older_than=now - OUTBOX_RETENTION)
        log.info("pruned outbox rows=%d", purged)
    except Exception:
        log.exception("outbox pruning failed")
    try:
        purged = await article_cache.purge(older_than=now - article_ttl)
        log.info("pruned article cache rows=%d", purged)
    except Exception:
        log.exception("article cache pruning failed")
    try:
        purged = await story_threads.purge(older_than=now - STORY_THREAD_RETENTION)
        log.info("pruned story threads rows=%d", purged)
    except Exception:
        log.exception("story threads pruning failed")
