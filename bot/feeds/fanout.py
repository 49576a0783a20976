"""Per subscription, what its new items become: the articles ``extract:true`` subscriptions
post, and each filtered subscription's verdicts. User regexes run on their own threads, one
task per server: a server's regex subscriptions share one :data:`~bot.feeds.filters.BUDGET_S`
a pass, each taking a fair share of what is left, so a server with many slow filters costs
the batch one budget, as a server with one does, and never everyone's posts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from bot.errors import FeedError
from bot.feeds.filters import BUDGET_S, EntryFilter, Judgement, filter_executor
from bot.feeds.types import FeedEntry
from bot.storage.feed_records import SubscriptionRecord
from bot.types import Article

log = logging.getLogger(__name__)

#: Time allowed to extract one article for an ``extract:true`` subscription.
EXTRACT_TIMEOUT_S = 30.0
_FILTER_CACHE = 1024
#: Feeds handled between two yields to the event loop while a batch is prepared.
YIELD_EVERY = 25

#: Each changed feed's id and the entries it would post (before filters).
ToPost = Sequence[tuple[int, Sequence[FeedEntry]]]
Subscriptions = Mapping[int, Sequence[SubscriptionRecord]]


#: Which filter of a subscription to judge (its filter, its mention patterns), if any.
_FilterOf = Callable[[SubscriptionRecord], EntryFilter | None]
#: A regex-filtered subscription's id, its filter and the entries it judges.
_Job = tuple[int, EntryFilter, Sequence[FeedEntry]]


def _judge_server(jobs: Sequence[_Job]) -> dict[int, Judgement]:
    """One server's regex subscriptions within one budget in all (blocking: a filter thread).
    Each takes an equal share of what is left, so time a cheap filter does not use goes to
    the next, and a slow one cannot take another subscription's share."""
    deadline = time.perf_counter() + BUDGET_S
    verdicts: dict[int, Judgement] = {}
    for left, (sub_id, entry_filter, entries) in zip(range(len(jobs), 0, -1), jobs, strict=True):
        share = max(0.0, deadline - time.perf_counter()) / left
        verdicts[sub_id] = entry_filter.judge(entries, share)
    return verdicts


class Extractor(Protocol):
    """What the pipeline needs of :class:`bot.articles.ArticleService`."""

    async def get(self, url: str) -> Article: ...


class Fanout:
    """Extraction and filters for the subscriptions of a batch of changed feeds."""

    def __init__(self, extractor: Extractor | None = None) -> None:
        self._extractor = extractor
        self._filters: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], EntryFilter] = OrderedDict()

    async def extract_all(self, to_post: ToPost, subs: Subscriptions) -> dict[str, Article]:
        """The articles of the links ``extract:true`` subscriptions will post, by link; a page
        that cannot be extracted in time is left out (the feed's own summary is posted).
        """
        extractor = self._extractor
        if extractor is None:
            return {}
        links = {
            entry.link
            for feed_id, entries in to_post
            if any(s.extract for s in subs.get(feed_id, []))
            for entry in entries
            if entry.link
        }
        found: dict[str, Article] = {}
        semaphore = asyncio.Semaphore(4)

        async def one(link: str) -> None:
            async with semaphore:
                try:
                    async with asyncio.timeout(EXTRACT_TIMEOUT_S):
                        found[link] = await extractor.get(link)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.info("extract failed for %s, using the feed's summary: %s", link, e)

        await asyncio.gather(*(one(link) for link in sorted(links)))
        return found

    async def judge_all(self, to_post: ToPost, subs: Subscriptions) -> dict[int, Judgement]:
        """Each filtered subscription's verdicts on its new items, by subscription id. The
        batch waits one budget per server with regex filters, shared by the filter threads.
        """
        return await self._judge(to_post, subs, self._filter)

    async def judge_mentions(self, to_post: ToPost, subs: Subscriptions) -> dict[int, Judgement]:
        """Each subscription's ``mention_include`` verdicts on its new items (whether a post
        pings its role; see :mod:`bot.feeds.mentions`), by subscription id, for those with a
        role and patterns; judged as :meth:`judge_all` judges filters (a timeout: no ping).
        """
        return await self._judge(to_post, subs, self._mention_filter)

    async def _judge(self, to_post: ToPost, subs: Subscriptions, pick: _FilterOf) -> dict[int, Judgement]:
        judged: dict[int, Judgement] = {}
        by_server: dict[int | None, list[_Job]] = {}
        for n, (feed_id, entries) in enumerate(to_post, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            for sub in subs.get(feed_id, []) if entries else ():
                entry_filter = pick(sub)
                if entry_filter is None:
                    continue
                if entry_filter.has_regex:
                    by_server.setdefault(sub.guild_id, []).append((sub.id, entry_filter, entries))
                else:  # keywords: linear-time, cheap here
                    judged[sub.id] = entry_filter.judge(entries, BUDGET_S)
        loop = asyncio.get_running_loop()
        running = [
            loop.run_in_executor(filter_executor(), _judge_server, jobs) for jobs in by_server.values()
        ]
        for verdicts in await asyncio.gather(*running):
            judged.update(verdicts)
        return judged

    def _filter(self, sub: SubscriptionRecord) -> EntryFilter | None:
        if not sub.include and not sub.exclude:
            return None
        return self._compiled(sub, sub.include, sub.exclude)

    def _mention_filter(self, sub: SubscriptionRecord) -> EntryFilter | None:
        if sub.mention_role_id is None or not sub.mention_include:
            return None
        return self._compiled(sub, sub.mention_include, ())

    def _compiled(
        self, sub: SubscriptionRecord, include: tuple[str, ...], exclude: tuple[str, ...]
    ) -> EntryFilter | None:
        key = (include, exclude)
        compiled = self._filters.get(key)
        if compiled is None:
            try:
                compiled = EntryFilter(include, exclude)
            except FeedError as e:
                # Stored patterns were validated; one that no longer compiles filters nothing.
                log.warning("subscription=%s filter ignored: %s", sub.id, e)
                return None
            self._filters[key] = compiled
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        return compiled
