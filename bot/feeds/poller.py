"""The feed poller: checks due feeds, and hands what came of it to :class:`PollWriter`.

One pass (:meth:`FeedPoller.poll_due`) claims the feeds due in the database, in batches, and
checks them with ``poll_concurrency`` workers:

- one conditional GET per feed, whatever the number of channels following it; a 304, or a
  body whose hash did not change, is not parsed;
- changed bodies are parsed off the event loop (a process pool when given one);
- the next check is scheduled from the response's caching headers and the feed's own hints;
  failures back off, and pause the feed after too many (or at once on 410 Gone);
- each host gets its own few requests in flight (``fetch.per_host_concurrency`` or its
  ``[fetch.host_limits]`` override); a worker never waits for a busy host but leaves the feed
  to the workers on that host and checks another host's meanwhile. A host spaced by
  ``min_interval_s`` defers its feeds to reserved turns, and a host that answered 429/503
  defers its feeds until its pause ends (:class:`bot.fetch.limits.HostLimiter`), others unslowed;
- outcomes are written in batches, in the order they were made, by
  :class:`bot.feeds.poll_writer.PollWriter` (new items, posts and notices).

Due times live in the database (no job per feed in memory). Each feed is guarded on its own:
a bad feed records a clear ``last_error`` and never stops the pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.clock import utcnow
from bot.config import FeedSettings
from bot.errors import FeedError, FetchError, HTTPStatusError, NewsdeskError
from bot.feeds.parser_pool import (
    UNAVAILABLE_RETRY_S,
    FeedParser,
    InThreadParser,
    ParserUnavailableError,
)
from bot.feeds.poll_types import Counts, Parsed, PollStats
from bot.feeds.poll_writer import (
    EXTRACT_TIMEOUT_S,
    MAX_POSTS_PER_POLL,
    Extractor,
    PollWriter,
    feed_info,
    item_row,
    post,
    post_dedup_key,
    update_hint_s,
)
from bot.feeds.posts import FeedInfo
from bot.feeds.schedule import next_check_at, should_pause
from bot.fetch import FEED_TYPES, Fetcher, FetchResult
from bot.storage.database import Database
from bot.storage.feeds import CheckDeferred, CheckFailed, CheckOk, CheckOutcome, DueFeed, FeedStore

# Importers of this module (the feed service, the bot, tests, the benchmark) find these here.
__all__ = [
    "CLAIM_BATCH",
    "EXTRACT_TIMEOUT_S",
    "FLUSH_BATCH",
    "FLUSH_ENTRIES",
    "LEASE_S",
    "MAX_POSTS_PER_POLL",
    "Extractor",
    "FeedPoller",
    "PollStats",
    "body_hash",
    "feed_info",
    "item_row",
    "post",
    "post_dedup_key",
    "retry_after",
    "update_hint_s",
    "utcnow",
]

log = logging.getLogger(__name__)

_PARSER_UNAVAILABLE = (
    "The feed reader was not available (its worker processes could not start); checked again soon."
)

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
_HOST_MEMORY = 10_000
#: Feeds set aside for a busy host, in all; past this a worker waits for the host's place
#: (back-pressure: claiming stops) rather than hold more in memory.
_BACKLOG_MAX = 2_000


def body_hash(body: bytes) -> str:
    """A short, stable fingerprint of a feed body."""
    # SHA-256 rather than BLAKE2: x86-64 and ARM CPUs hash it in hardware, about twice as fast
    # (9 against 17 us for a 15 kB feed here). Changing it re-parses each feed once, no more:
    # the items' keys keep anything from being posted twice.
    return hashlib.sha256(body).hexdigest()[:32]


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
    """Checks due feeds and fans new items out to their subscriptions through the outbox.

    ``owner`` names this poller in feed leases: give a stable one per process slot (``"bot"``)
    so that :meth:`run`, restarted after a crash, frees its previous life's leases at once; by
    default it is random, and a crashed poller's feeds wait for their lease (``LEASE_S``).
    """

    def __init__(
        self,
        db: Database,
        fetcher: Fetcher,
        settings: FeedSettings,
        *,
        parser: FeedParser | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_new_items: Callable[[], None] | None = None,
        extractor: Extractor | None = None,
        rng: random.Random | None = None,
        owner: str | None = None,
    ) -> None:
        self._store = FeedStore(db)
        self._writer = PollWriter(self._store, settings, extractor=extractor)
        self._fetcher = fetcher
        self._settings = settings
        self._parser = parser or InThreadParser()
        self._clock = clock
        # Told after a pass that stored new items (the story assigner groups them at once
        # rather than at the end of its nap, so breaking alerts go out sooner).
        self._on_new_items = on_new_items
        self._rng = rng or random.Random()
        self._stable_owner = owner is not None
        self.owner = owner or f"poller-{secrets.token_hex(6)}"
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        if settings.per_host_spacing_s is not None:
            log.warning(
                "feeds.per_host_spacing_s is deprecated and ignored: hosts get "
                "fetch.per_host_concurrency requests in flight; set [fetch.host_limits] for a strict one"
            )
        # host -> its next free turn, for hosts spaced by min_interval_s; forgotten once past.
        self._host_free_at: dict[str, datetime] = {}
        # feed id -> the turn reserved for it on its busy host.
        self._host_slots: dict[int, datetime] = {}

    # --- loop --------------------------------------------------------------------------

    async def run(self, *, idle_s: float = 30.0) -> None:
        """Poll until :meth:`stop` (or cancellation): a pass, then sleep until the next feed is
        due (at most ``idle_s``, so feeds added meanwhile are picked up). A pass that fails as a
        whole (database down) is logged and tried again later.
        """
        self._stopping.clear()
        if self._stable_owner:
            try:
                # Feeds this poller claimed before it was killed mid-pass: due now, not in 15 min.
                released = await self._store.release_leases(self.owner)
                if released:
                    log.info("feed poll: released %d feeds leased before a restart", released)
            except Exception:
                log.exception("feed poll: freeing old leases failed; they run out on their own")
        while not self._stopping.is_set():
            try:
                stats = await self.poll_due(self._clock())
                if stats.claimed:
                    log.info("feed poll: %s", stats)
                if stats.new_items and self._on_new_items is not None:
                    self._on_new_items()
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
        counts = Counts()
        lease_until = now + timedelta(seconds=LEASE_S)
        concurrency = self._settings.poll_concurrency
        # The producer claims the next batch while the workers fetch the current one.
        queue: asyncio.Queue[DueFeed | None] = asyncio.Queue(maxsize=CLAIM_BATCH)
        pending: list[CheckOutcome | Parsed] = []
        weight = [0]  # entries of the parsed feeds in pending
        writes: deque[asyncio.Task[None]] = deque()
        write_lock = asyncio.Lock()
        self._forget_hosts(now)

        async def produce() -> None:
            try:
                while True:
                    batch = await self._store.claim_due(
                        now, limit=CLAIM_BATCH, lease_until=lease_until, owner=self.owner
                    )
                    counts.claimed += len(batch)
                    for feed in batch:
                        await queue.put(feed)
                    if len(batch) < CLAIM_BATCH:
                        return
            finally:
                for _ in range(concurrency):
                    await queue.put(None)

        async def write(batch: list[CheckOutcome | Parsed]) -> None:
            async with write_lock:  # FIFO: batches are written in the order they were made
                await self._writer.write(batch, now, counts)

        async def start_write() -> None:
            if pending:
                writes.append(asyncio.create_task(write(pending[:])))
                pending.clear()
                weight[0] = 0
            # Back-pressure: parsed feeds wait in memory only while one batch is written.
            while len(writes) > 1:
                await writes.popleft()

        # host -> workers on it, and the feeds left for them (a worker moves on meanwhile).
        busy: Counter[str] = Counter()
        backlog: dict[str, deque[DueFeed]] = {}
        held = [0]

        async def check(feed: DueFeed) -> None:
            outcome = await self._check_guarded(feed, now, counts)
            pending.append(outcome)
            if isinstance(outcome, Parsed):
                weight[0] += len(outcome.parsed.entries)
            if len(pending) >= FLUSH_BATCH or weight[0] >= FLUSH_ENTRIES:
                await start_write()

        async def worker() -> None:
            limits = self._fetcher.limits
            while (feed := await queue.get()) is not None:
                host = _host(feed.url)
                if busy[host] >= limits.limit_for(host).concurrency and held[0] < _BACKLOG_MAX:
                    backlog.setdefault(host, deque()).append(feed)
                    held[0] += 1
                    continue
                busy[host] += 1
                try:
                    next_feed: DueFeed | None = feed
                    while next_feed is not None:
                        await check(next_feed)
                        # No await between finding the host's backlog empty and leaving it.
                        waiting = backlog.get(host)
                        next_feed = waiting.popleft() if waiting else None
                        if next_feed is not None:
                            held[0] -= 1
                        if waiting is not None and not waiting:
                            del backlog[host]
                finally:
                    busy[host] -= 1
                    if not busy[host]:
                        del busy[host]

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

    async def _check_guarded(self, feed: DueFeed, now: datetime, counts: Counts) -> CheckOutcome | Parsed:
        try:
            return await self._check(feed, now, counts)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # A bug or a broken parser pool must cost this feed a failure, not the pass.
            log.exception("feed=%s unexpected error while checking", feed.url)
            return self._failure(feed, e, now, counts, message="Unexpected error while checking the feed.")

    async def _check(self, feed: DueFeed, now: datetime, counts: Counts) -> CheckOutcome | Parsed:
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
            parsed, keys = await self._parser.parse(result.body, result.final_url, result.content_type)
        except ParserUnavailableError:
            # Not the feed's fault: tried again soon, not counted towards pausing it.
            counts.failed += 1
            retry_at = now + timedelta(seconds=UNAVAILABLE_RETRY_S)
            return CheckFailed(feed.id, feed.failures, _PARSER_UNAVAILABLE, retry_at)
        except FeedError as e:
            return self._failure(feed, e, now, counts)
        counts.parsed += 1
        return Parsed(
            feed=feed,
            parsed=parsed,
            keys=keys,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=digest,
            next_check_at=self._next(now, result, update_hint_s(parsed)),
        )

    def _defer_for_host(self, feed: DueFeed, now: datetime) -> CheckDeferred | None:
        """A later time for ``feed`` when its host is paused (429/503) or spaced and busy."""
        limits = self._fetcher.limits
        host = _host(feed.url)
        paused = limits.blocked_for(host)
        if paused > 0:
            # Spread over a tenth of the pause, so the host is not asked all at once after it.
            spread = paused * 0.1 * self._rng.random()
            return CheckDeferred(feed.id, now + timedelta(seconds=paused + spread))
        limit = limits.limit_for(host)
        if limit.min_interval_s <= 0:
            return None
        spacing = limit.min_interval_s / limit.concurrency
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
            max_hint_interval_s=s.max_hint_interval_s,
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
        counts: Counts,
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
            max_hint_interval_s=s.max_hint_interval_s,
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


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
