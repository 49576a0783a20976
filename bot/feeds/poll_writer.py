"""The feed poller's writer: turns a batch of check outcomes into storage writes.

For changed feeds it looks up which entries were seen before, decides the new items, extracts
articles for ``extract:true`` subscriptions, applies each subscription's filters (all of the
batch at once, user regexes on their own threads, each subscription within a time budget, so a
slow filter costs its own subscription, not everyone's posts) and builds the item rows and
outbox posts; failed checks that pause a feed get a notice to its channels. The
whole batch is then recorded in one transaction (validators and next checks with
``executemany``; items and their outbox rows together, so a crash loses nothing and posts
nothing twice), falling back to one feed at a time when that fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.config import FeedSettings
from bot.discord_text import escape_markdown, fit
from bot.errors import FeedError, StorageError
from bot.feeds.decide import decide_new_items
from bot.feeds.filters import BUDGET_S, EntryFilter, Judgement, filter_executor
from bot.feeds.identity import entry_key
from bot.feeds.poll_types import Counts, Parsed
from bot.feeds.posts import FeedInfo, feed_item_message, feed_paused_notice, notice_message
from bot.feeds.types import FeedEntry, ParsedFeed
from bot.storage.feeds import (
    CheckChanged,
    CheckFailed,
    CheckOutcome,
    FeedStore,
    ItemRow,
    SubscriptionRecord,
)
from bot.storage.outbox import OutboxMessage
from bot.types import Article

log = logging.getLogger(__name__)

#: New items posted from one poll at most (newest kept): a feed that rewrites every guid and
#: link at once must not flood its channels.
MAX_POSTS_PER_POLL = 30
#: Time allowed to extract one article for an ``extract:true`` subscription.
EXTRACT_TIMEOUT_S = 30.0
_FILTER_CACHE = 1024
#: Feeds handled between two yields to the event loop while a batch is prepared.
_YIELD_EVERY = 25


class Extractor(Protocol):
    """What the poller needs of :class:`bot.articles.ArticleService`."""

    async def get(self, url: str) -> Article: ...


class PollWriter:
    """Writes what one batch of feed checks came to: decisions, items, posts, notices."""

    def __init__(
        self, store: FeedStore, settings: FeedSettings, *, extractor: Extractor | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._extractor = extractor
        self._filters: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], EntryFilter] = OrderedDict()

    async def write(self, batch: list[CheckOutcome | Parsed], now: datetime, counts: Counts) -> None:
        """Record ``batch`` (checked at ``now``), adding its new items and posts to ``counts``.
        Storage errors are logged, never raised: what could not be stored is checked again
        once its lease runs out.
        """
        parsed = [o for o in batch if isinstance(o, Parsed)]
        outcomes: list[CheckOutcome] = [o for o in batch if not isinstance(o, Parsed)]
        pausing = [o for o in outcomes if isinstance(o, CheckFailed) and o.pause_reason]
        try:
            if parsed or pausing:
                subs = await self._store.active_subscriptions(
                    [*(p.feed.id for p in parsed), *(o.feed_id for o in pausing)]
                )
                if parsed:
                    outcomes += await self._changed(parsed, subs, now, counts)
                if pausing:
                    outcomes = [self._with_notices(o, subs.get(o.feed_id, []), now, counts) for o in outcomes]
        except StorageError as e:
            # Their leases run out and they are checked again; the rest is still written.
            log.error("could not decide on %d changed feeds: %s", len(parsed), e)
            outcomes = [o for o in outcomes if not isinstance(o, CheckChanged)]
        try:
            await self._store.record(outcomes, now=now)
            return
        except StorageError as e:
            log.error("writing %d feed checks failed (%s); writing them one by one", len(outcomes), e)
        for outcome in outcomes:
            try:
                await self._store.record([outcome], now=now)
            except StorageError as e:
                log.error(
                    "feed_id=%s check could not be stored (retried after its lease): %s", outcome.feed_id, e
                )

    def _with_notices(
        self, outcome: CheckOutcome, subs: Sequence[SubscriptionRecord], now: datetime, counts: Counts
    ) -> CheckOutcome:
        if not isinstance(outcome, CheckFailed) or not outcome.pause_reason:
            return outcome
        source = counts.sources.get(outcome.feed_id) or FeedInfo(url="")
        return dataclasses.replace(outcome, notices=self._pause_notices(outcome, subs, now, source))

    def _pause_notices(
        self, outcome: CheckFailed, subs: Sequence[SubscriptionRecord], now: datetime, source: FeedInfo
    ) -> tuple[OutboxMessage, ...]:
        spec = feed_paused_notice(source, outcome.pause_reason or "")
        return tuple(
            OutboxMessage(
                channel_id=sub.channel_id,
                guild_id=sub.guild_id,
                kind="notice",
                dedup_key=f"feed-paused:{sub.id}:{now.isoformat()}",
                spec=spec,
            )
            for sub in subs
        )

    async def _changed(
        self,
        parsed: Sequence[Parsed],
        subs: Mapping[int, Sequence[SubscriptionRecord]],
        now: datetime,
        counts: Counts,
    ) -> list[CheckOutcome]:
        keyed: dict[int, list[tuple[FeedEntry, str, str | None]]] = {}
        for p in parsed:
            keyed[p.feed.id] = [(e, k, lk) for e, (k, lk) in zip(p.parsed.entries, p.keys, strict=True)]
        # A feed never fetched successfully has nothing remembered yet: no lookup needed.
        seen = await self._store.seen_keys(
            {
                p.feed.id: ([k for _, k, _ in keyed[p.feed.id]], [lk for _, _, lk in keyed[p.feed.id] if lk])
                for p in parsed
                if not p.feed.first_fetch
            }
        )
        nothing: tuple[set[str], set[str]] = (set(), set())
        decisions = []
        for n, p in enumerate(parsed, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a batch holds hundreds of feeds: let the loop breathe
            seen_keys, seen_links = seen.get(p.feed.id, nothing)
            new = decide_new_items(
                p.parsed.entries,
                seen_keys=seen_keys,
                seen_link_keys=seen_links,
                first_fetch=p.feed.first_fetch,
                first_fetch_count=self._settings.first_post_count,
                max_posts=MAX_POSTS_PER_POLL,
                keys=p.keys,
            )
            decisions.append((p, new))
        articles = await self._extract_all(decisions, subs)
        judged = await self._judge_all(decisions, subs)
        outcomes: list[CheckOutcome] = []
        for n, (p, new) in enumerate(decisions, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            by_key: dict[str, tuple[FeedEntry, str | None]] = {}
            key_of: dict[int, str] = {}
            for entry, key, lkey in keyed[p.feed.id]:
                by_key.setdefault(key, (entry, lkey))
                key_of[id(entry)] = key
            known_links = new.remember_link_keys | seen.get(p.feed.id, nothing)[1]
            items = tuple(
                item_row(entry, key, lkey if lkey in known_links else None)
                for key, (entry, lkey) in by_key.items()
                if key in new.remember_keys
            )
            counts.new_items += len(items)
            source = feed_info(p.feed.url, p.parsed)
            messages = []
            notices = []
            for sub in subs.get(p.feed.id, []):
                judgement = judged.get(sub.id)
                passing: Sequence[FeedEntry] = new.to_post
                if judgement is not None:
                    passing = [e for e, ok in zip(new.to_post, judgement.passing, strict=True) if ok]
                    if judgement.timed_out or judgement.not_judged:
                        notices.append(filter_notice(sub, p.feed.url, judgement, now))
                for entry in passing:
                    article = articles.get(entry.link) if sub.extract and entry.link else None
                    messages.append(post(sub, entry, source, article, key=key_of.get(id(entry))))
            counts.posts += len(messages)
            messages += notices
            outcomes.append(
                CheckChanged(
                    feed_id=p.feed.id,
                    title=p.parsed.title,
                    site_url=p.parsed.link,
                    icon_url=p.parsed.icon_url,
                    etag=p.etag,
                    last_modified=p.last_modified,
                    body_hash=p.body_hash,
                    update_hint_s=update_hint_s(p.parsed),
                    next_check_at=p.next_check_at,
                    items=items,
                    messages=tuple(messages),
                )
            )
        return outcomes

    async def _extract_all(
        self, decisions: Sequence[tuple[Parsed, Any]], subs: Mapping[int, Sequence[SubscriptionRecord]]
    ) -> dict[str, Article]:
        extractor = self._extractor
        if extractor is None:
            return {}
        links = {
            entry.link
            for p, new in decisions
            if any(s.extract for s in subs.get(p.feed.id, []))
            for entry in new.to_post
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
                    # The feed's own summary and image are posted instead.
                    log.info("extract failed for %s, using the feed's summary: %s", link, e)

        await asyncio.gather(*(one(link) for link in sorted(links)))
        return found

    async def _judge_all(
        self, decisions: Sequence[tuple[Parsed, Any]], subs: Mapping[int, Sequence[SubscriptionRecord]]
    ) -> dict[int, Judgement]:
        """Each filtered subscription's verdicts on its new items, by subscription id. User
        regexes run on the filter threads, all subscriptions at once, each within
        :data:`BUDGET_S`: the batch waits for the slowest one budget, not for the sum.
        """
        loop = asyncio.get_running_loop()
        judged: dict[int, Judgement] = {}
        running: dict[int, asyncio.Future[Judgement]] = {}
        for n, (p, new) in enumerate(decisions, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            for sub in subs.get(p.feed.id, []) if new.to_post else ():
                entry_filter = self._filter(sub)
                if entry_filter is None:
                    continue
                if entry_filter.has_regex:
                    running[sub.id] = loop.run_in_executor(
                        filter_executor(), entry_filter.judge, new.to_post, BUDGET_S
                    )
                else:  # keywords: linear-time, cheap here
                    judged[sub.id] = entry_filter.judge(new.to_post, BUDGET_S)
        for sub_id, verdicts in zip(running, await asyncio.gather(*running.values()), strict=True):
            judged[sub_id] = verdicts
        return judged

    def _filter(self, sub: SubscriptionRecord) -> EntryFilter | None:
        if not sub.include and not sub.exclude:
            return None
        key = (sub.include, sub.exclude)
        compiled = self._filters.get(key)
        if compiled is None:
            try:
                compiled = EntryFilter(sub.include, sub.exclude)
            except FeedError as e:
                # Stored patterns were validated; one that no longer compiles filters nothing.
                log.warning("subscription=%s filter ignored: %s", sub.id, e)
                return None
            self._filters[key] = compiled
            if len(self._filters) > _FILTER_CACHE:
                self._filters.popitem(last=False)
        return compiled


def filter_notice(
    sub: SubscriptionRecord, feed_url: str, judgement: Judgement, now: datetime
) -> OutboxMessage:
    """Tells ``sub``'s channel (once a day at most) that its filter ran out of time."""
    log.warning(
        "subscription=%s guild=%s feed=%s: filter out of time: %d items timed out (no match), "
        "%d not judged (not posted)",
        sub.id, sub.guild_id, feed_url, judgement.timed_out, judgement.not_judged,
    )  # fmt: skip
    skipped = judgement.timed_out + judgement.not_judged
    url = fit(escape_markdown(feed_url), 300)
    spec = notice_message(
        "Feed filter too slow",
        f"The filter of this channel's subscription to {url} ran out of time on {skipped} new "
        f"item{'s' if skipped != 1 else ''}: an item it cannot judge in time is not posted, and a "
        "pattern that runs out of time counts as not matching. Make its regex simpler with "
        "`/feed filter` (patterns such as `(a|aa)+` take forever on some titles).",
    )
    return OutboxMessage(
        channel_id=sub.channel_id,
        guild_id=sub.guild_id,
        kind="notice",
        dedup_key=f"filter-slow:{sub.id}:{now.date().isoformat()}",
        spec=spec,
    )


def update_hint_s(parsed: ParsedFeed) -> int | None:
    """The feed's own "nothing new before" hint in seconds (``<ttl>``, ``sy:updatePeriod``)."""
    hints = [parsed.ttl_minutes * 60 if parsed.ttl_minutes else 0, parsed.update_period_s or 0]
    return max(hints) or None


def feed_info(url: str, parsed: ParsedFeed) -> FeedInfo:
    """The source shown on posts, from a parsed feed."""
    return FeedInfo(url=url, title=parsed.title, site_url=parsed.link, icon_url=parsed.icon_url)


def item_row(entry: FeedEntry, key: str, lkey: str | None) -> ItemRow:
    """The row remembering ``entry`` (summary bounded: it is for digests, not archives)."""
    summary = entry.summary[:2000] if entry.summary else None
    return ItemRow(
        entry_key=key,
        link_key=lkey,
        title=entry.title,
        url=entry.link,
        summary=summary,
        image_url=entry.image_url,
        author=entry.author,
        published_at=entry.published,
    )


def post(
    sub: SubscriptionRecord,
    entry: FeedEntry,
    source: FeedInfo,
    article: Article | None,
    *,
    key: str | None = None,
) -> OutboxMessage:
    """The outbox row posting ``entry`` to ``sub``'s channel. The dedup key makes a second
    enqueue of the same item for the same subscription a no-op.
    """
    return OutboxMessage(
        channel_id=sub.channel_id,
        guild_id=sub.guild_id,
        kind="feed_item",
        dedup_key=post_dedup_key(sub.id, key if key is not None else entry_key(entry)),
        spec=feed_item_message(entry, source, article=article),
    )


def post_dedup_key(subscription_id: int, key: str) -> str:
    return f"feed:{subscription_id}:{key}"
