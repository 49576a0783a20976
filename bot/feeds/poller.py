"""The feed poller: checks due feeds and posts their new items to every subscribed channel.

One pass (:meth:`FeedPoller.poll_due`) claims the feeds due in the database, in batches, and
checks them with ``poll_concurrency`` workers:

- one conditional GET per feed, whatever the number of channels following it; a 304, or a
  body whose hash did not change, is not parsed;
- changed bodies are parsed off the event loop (a process pool when given one);
- results are written in batches: validators and next checks with ``executemany``; for changed
  feeds, the new items and their outbox rows in the same transaction, so a crash loses nothing
  and posts nothing twice.

Due times live in the database (no job per feed in memory). Each feed is guarded on its own:
a bad feed records a clear ``last_error`` and never stops the pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from bot.clock import utcnow
from bot.config import FeedSettings
from bot.errors import FeedError, FetchError, HTTPStatusError, NewsdeskError, StorageError
from bot.feeds.batching import BatchingExecutor
from bot.feeds.decide import EntryKeys, decide_new_items
from bot.feeds.filters import EntryFilter
from bot.feeds.identity import entry_key
from bot.feeds.jobs import parse_for_posting, parse_with_keys
from bot.feeds.posts import FeedInfo, feed_item_message, feed_paused_notice
from bot.feeds.schedule import next_check_at, should_pause
from bot.feeds.types import FeedEntry, ParsedFeed
from bot.fetch import FEED_TYPES, Fetcher, FetchResult
from bot.storage.database import Database
from bot.storage.feeds import (
    CheckChanged,
    CheckDeferred,
    CheckFailed,
    CheckOk,
    CheckOutcome,
    DueFeed,
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
#: How long a claimed feed stays leased to this process (a crashed poller's feeds come back).
LEASE_S = 900
#: Feeds claimed per query, and outcomes written per transaction.
CLAIM_BATCH = 500
FLUSH_BATCH = 500
#: ... and entries of changed feeds per transaction (each becomes a row or a lookup): memory
#: stays flat however many feeds changed (about 1 kB per entry waits, two batches at most).
#: Large enough that fetching and parsing the next batch overlaps the writing of this one:
#: at 2,000 the fetchers sat waiting for the writer and the cold pass ran a third slower.
FLUSH_ENTRIES = 10_000
#: Time allowed to extract one article for an ``extract:true`` subscription.
EXTRACT_TIMEOUT_S = 30.0
_FILTER_CACHE = 1024
_HOST_MEMORY = 10_000


class Extractor(Protocol):
    """What the poller needs of :class:`bot.articles.ArticleService`."""

    async def get(self, url: str) -> Article: ...


@dataclass(frozen=True, slots=True)
class PollStats:
    """What one pass did (for logs, tests and the benchmark)."""

    #: Feeds claimed as due.
    claimed: int = 0
    #: Feeds answered 304 Not Modified.
    not_modified: int = 0
    #: Feeds answered 200 with the same body as last time (hash), not parsed.
    unchanged: int = 0
    #: Bodies parsed.
    parsed: int = 0
    #: Checks that failed (fetch or parse).
    failed: int = 0
    #: Feeds paused by this pass (410, or too many failures).
    paused: int = 0
    #: Feeds not fetched because their host was asked too recently (checked a bit later).
    deferred: int = 0
    #: Items seen for the first time.
    new_items: int = 0
    #: Posts written to the outbox (one per item and subscribed channel).
    posts: int = 0
    #: Wall-clock seconds of the pass.
    elapsed_s: float = 0.0


@dataclass(slots=True)
class _Counts:
    claimed: int = 0
    not_modified: int = 0
    unchanged: int = 0
    parsed: int = 0
    failed: int = 0
    paused: int = 0
    deferred: int = 0
    new_items: int = 0
    posts: int = 0
    #: Feeds being paused, for the notice to their channels.
    sources: dict[int, FeedInfo] = dataclasses.field(default_factory=dict)

    def freeze(self, elapsed_s: float) -> PollStats:
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(PollStats) if f.name != "elapsed_s"
        }
        return PollStats(**values, elapsed_s=elapsed_s)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A changed feed, parsed; turned into a :class:`CheckChanged` once seen keys are known."""

    feed: DueFeed
    parsed: ParsedFeed
    #: ``(entry_key, link_key)`` of each entry, computed with the parse.
    keys: tuple[EntryKeys, ...]
    etag: str | None
    last_modified: str | None
    body_hash: str
    next_check_at: datetime


def body_hash(body: bytes) -> str:
    """A short, stable fingerprint of a feed body."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


async def parse_off_loop(executor: Executor | None, result: FetchResult) -> ParsedFeed:
    """Parse a fetched feed in ``executor`` (threads when ``None``). Raises
    :class:`~bot.errors.FeedParseError` (or :class:`~bot.errors.NotAFeedError`).
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        executor, parse_for_posting, result.body, result.final_url, result.content_type
    )


def update_hint_s(parsed: ParsedFeed) -> int | None:
    """The feed's own "nothing new before" hint in seconds (``<ttl>``, ``sy:updatePeriod``)."""
    hints = [parsed.ttl_minutes * 60 if parsed.ttl_minutes else 0, parsed.update_period_s or 0]
    return max(hints) or None


def retry_after(error: BaseException) -> str | None:
    """The ``Retry-After`` a failed response carried (:attr:`HTTPStatusError.retry_after`)."""
    value = getattr(error, "retry_after", None)
    if value is not None:
        return str(value)
    headers = getattr(error, "headers", None)
    if isinstance(headers, Mapping):
        found = headers.get("Retry-After")
        return str(found) if found is not None else None
    return None


class FeedPoller:
    """Checks due feeds and fans new items out to their subscriptions through the outbox."""

    def __init__(
        self,
        db: Database,
        fetcher: Fetcher,
        settings: FeedSettings,
        *,
        parse_executor: Executor | None = None,
        parse_workers: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        extractor: Extractor | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = FeedStore(db)
        self._fetcher = fetcher
        self._settings = settings
        # Two batches per parse worker in flight: one running, one queued behind it.
        self._parser = BatchingExecutor(
            parse_executor, parse_with_keys, slots=2 * (parse_workers or os.cpu_count() or 1)
        )
        self._clock = clock
        self._extractor = extractor
        self._rng = rng or random.Random()
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        # host -> when it may be asked again (per_host_spacing_s); forgotten once in the past.
        self._host_free_at: dict[str, datetime] = {}
        # feed id -> the turn reserved for it on its busy host.
        self._host_slots: dict[int, datetime] = {}
        self._filters: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], EntryFilter] = OrderedDict()

    # --- loop --------------------------------------------------------------------------

    async def run(self, *, idle_s: float = 30.0) -> None:
        """Poll until :meth:`stop` (or cancellation): a pass, then sleep until the next feed is
        due (at most ``idle_s``, so feeds added meanwhile are picked up). A pass that fails as a
        whole (database down) is logged and tried again later.
        """
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                stats = await self.poll_due(self._clock())
                if stats.claimed:
                    log.info("feed poll: %s", stats)
                delay = idle_s
                due = await self._store.next_due_at()
                if due is not None:
                    delay = min(max((due - self._clock()).total_seconds(), 0.5), idle_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed poll pass failed; trying again in %.0f s", idle_s)
                delay = idle_s
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if :meth:`wake` or :meth:`stop` is called."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({stopping, woken}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            woken.cancel()
            self._woken.clear()

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added or resumed) instead of after the nap."""
        self._woken.set()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current pass."""
        self._stopping.set()

    async def poll_due(self, now: datetime) -> PollStats:
        """Check every feed due at ``now`` once, and write what came of it. Raises
        :class:`StorageError` only when feeds cannot even be claimed.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        counts = _Counts()
        lease_until = now + timedelta(seconds=LEASE_S)
        concurrency = self._settings.poll_concurrency
        # The producer claims the next batch while the workers fetch the current one.
        queue: asyncio.Queue[DueFeed | None] = asyncio.Queue(maxsize=CLAIM_BATCH)
        pending: list[CheckOutcome | _Parsed] = []
        weight = [0]  # entries of the parsed feeds in pending
        writes: deque[asyncio.Task[None]] = deque()
        write_lock = asyncio.Lock()
        self._forget_hosts(now)

        async def produce() -> None:
            try:
                while True:
                    batch = await self._store.claim_due(now, limit=CLAIM_BATCH, lease_until=lease_until)
                    counts.claimed += len(batch)
                    for feed in batch:
                        await queue.put(feed)
                    if len(batch) < CLAIM_BATCH:
                        return
            finally:
                for _ in range(concurrency):
                    await queue.put(None)

        async def write(batch: list[CheckOutcome | _Parsed]) -> None:
            async with write_lock:  # FIFO: batches are written in the order they were made
                await self._write(batch, now, counts)

        async def start_write() -> None:
            if pending:
                writes.append(asyncio.create_task(write(pending[:])))
                pending.clear()
                weight[0] = 0
            # Back-pressure: parsed feeds wait in memory only while one batch is written.
            while len(writes) > 1:
                await writes.popleft()

        async def worker() -> None:
            while (feed := await queue.get()) is not None:
                outcome = await self._check_guarded(feed, now, counts)
                pending.append(outcome)
                if isinstance(outcome, _Parsed):
                    weight[0] += len(outcome.parsed.entries)
                if len(pending) >= FLUSH_BATCH or weight[0] >= FLUSH_ENTRIES:
                    await start_write()

        producer = asyncio.create_task(produce())
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            await asyncio.gather(*workers)
            await producer  # raises StorageError when claiming failed
        finally:
            for task in (producer, *workers):
                task.cancel()
            # What was checked is written, even when claiming failed halfway.
            await asyncio.shield(start_write())
            await asyncio.shield(asyncio.gather(*writes))
        return counts.freeze(loop.time() - started)

    # --- one feed ------------------------------------------------------------------------

    async def _check_guarded(self, feed: DueFeed, now: datetime, counts: _Counts) -> CheckOutcome | _Parsed:
        try:
            return await self._check(feed, now, counts)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # A bug or a broken parser pool must cost this feed a failure, not the pass.
            log.exception("feed=%s unexpected error while checking", feed.url)
            return self._failure(feed, e, now, counts, message="Unexpected error while checking the feed.")

    async def _check(self, feed: DueFeed, now: datetime, counts: _Counts) -> CheckOutcome | _Parsed:
        deferred = self._defer_for_host(feed, now)
        if deferred is not None:
            counts.deferred += 1
            return deferred
        try:
            result = await self._fetcher.fetch(
                feed.url, accept_types=FEED_TYPES, etag=feed.etag, last_modified=feed.last_modified
            )
        except FetchError as e:
            return self._failure(feed, e, now, counts)
        if result.not_modified:
            counts.not_modified += 1
            return CheckOk(
                feed.id, result.etag, result.last_modified, self._next(now, result, feed.update_hint_s)
            )
        digest = body_hash(result.body)
        if digest == feed.body_hash:
            counts.unchanged += 1
            return CheckOk(
                feed.id, result.etag, result.last_modified, self._next(now, result, feed.update_hint_s)
            )
        try:
            parsed, keys = await self._parser.run(result.body, result.final_url, result.content_type)
        except FeedError as e:
            return self._failure(feed, e, now, counts)
        counts.parsed += 1
        return _Parsed(
            feed=feed,
            parsed=parsed,
            keys=keys,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=digest,
            next_check_at=self._next(now, result, update_hint_s(parsed)),
        )

    def _defer_for_host(self, feed: DueFeed, now: datetime) -> CheckDeferred | None:
        spacing = self._settings.per_host_spacing_s
        if spacing <= 0:
            return None
        try:
            host = (urlsplit(feed.url).hostname or "").lower()
        except ValueError:
            host = ""
        slot = self._host_slots.pop(feed.id, None)
        if slot is not None and slot <= now:
            return None  # its reserved turn came
        free_at = self._host_free_at.get(host)
        if free_at is None or free_at <= now:
            self._host_free_at[host] = now + timedelta(seconds=spacing)
            return None
        # Not a failure: the feed gets the host's next free turn, reserved for it, so a host
        # with 300 due feeds costs 300 claims spread over time, not a re-deferral of all of
        # them at every turn.
        self._host_free_at[host] = free_at + timedelta(seconds=spacing)
        self._host_slots[feed.id] = free_at
        return CheckDeferred(feed.id, free_at)

    def _forget_hosts(self, now: datetime) -> None:
        if len(self._host_free_at) > _HOST_MEMORY:
            self._host_free_at = {h: t for h, t in self._host_free_at.items() if t > now}
        if len(self._host_slots) > _HOST_MEMORY:
            stale = now - timedelta(seconds=LEASE_S)
            self._host_slots = {f: t for f, t in self._host_slots.items() if t > stale}

    def _next(self, now: datetime, result: FetchResult, hint_s: int | None) -> datetime:
        s = self._settings
        return next_check_at(
            now,
            interval_s=s.interval_s,
            min_interval_s=s.min_interval_s,
            max_interval_s=s.max_interval_s,
            cache_control=result.headers.get("Cache-Control"),
            expires=result.headers.get("Expires"),
            retry_after=result.headers.get("Retry-After"),
            update_period_s=hint_s,
            rng=self._rng,
        )

    def _failure(
        self,
        feed: DueFeed,
        error: BaseException,
        now: datetime,
        counts: _Counts,
        *,
        message: str | None = None,
    ) -> CheckFailed:
        s = self._settings
        counts.failed += 1
        status = error.status if isinstance(error, HTTPStatusError) else None
        failures = feed.failures + 1
        text = message or (
            str(error) if isinstance(error, NewsdeskError) else "The feed could not be checked."
        )
        when = next_check_at(
            now,
            interval_s=s.interval_s,
            min_interval_s=s.min_interval_s,
            max_interval_s=s.max_interval_s,
            retry_after=retry_after(error),
            update_period_s=feed.update_hint_s,
            failures=failures,
            rng=self._rng,
        )
        log.info("feed=%s check failed (%d in a row): %s", feed.url, failures, text)
        reason = None
        if should_pause(failures, s.max_failures, status):
            counts.paused += 1
            if status == 410:
                reason = "the site says the feed is gone for good (410 Gone)."
            else:
                reason = f"{failures} checks in a row failed; the last one said: {text}"
            log.warning("feed=%s paused: %s", feed.url, reason)
            counts.sources[feed.id] = FeedInfo(url=feed.url, title=feed.title)
        return CheckFailed(feed.id, failures, text, when, pause_reason=reason)

    # --- writing a batch -------------------------------------------------------------------

    async def _write(self, batch: list[CheckOutcome | _Parsed], now: datetime, counts: _Counts) -> None:
        parsed = [o for o in batch if isinstance(o, _Parsed)]
        outcomes: list[CheckOutcome] = [o for o in batch if not isinstance(o, _Parsed)]
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
        self, outcome: CheckOutcome, subs: Sequence[SubscriptionRecord], now: datetime, counts: _Counts
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
        parsed: Sequence[_Parsed],
        subs: Mapping[int, Sequence[SubscriptionRecord]],
        now: datetime,
        counts: _Counts,
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
        for p in parsed:
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
        outcomes: list[CheckOutcome] = []
        for p, new in decisions:
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
            for sub in subs.get(p.feed.id, []):
                entry_filter = self._filter(sub)
                for entry in new.to_post:
                    if entry_filter is not None and not entry_filter.matches(entry):
                        continue
                    article = articles.get(entry.link) if sub.extract and entry.link else None
                    messages.append(post(sub, entry, source, article, key=key_of.get(id(entry))))
            counts.posts += len(messages)
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
        self, decisions: Sequence[tuple[_Parsed, Any]], subs: Mapping[int, Sequence[SubscriptionRecord]]
    ) -> dict[str, Article]:
        if self._extractor is None:
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
                        found[link] = await self._extractor.get(link)  # type: ignore[union-attr]
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    # The feed's own summary and image are posted instead.
                    log.info("extract failed for %s, using the feed's summary: %s", link, e)

        await asyncio.gather(*(one(link) for link in sorted(links)))
        return found

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
