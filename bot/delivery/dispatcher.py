"""The outbox dispatcher: the background loop that posts queued messages.

One worker per channel sends that channel's rows one after the other, in id
order; up to ``concurrency`` channels proceed at once. What happens after a
send is decided by :func:`outcome` from the error alone:

- sent: the row is marked with the message id, the channel's next row follows;
- 400 (:class:`MessageRejectedError`) or an invalid spec: the row is failed
  and logged, the channel goes on;
- 403/404 (:class:`ChannelUnavailableError`): the channel is held (its rows
  kept) and ``on_channel_unavailable`` is called;
- 429 (:class:`RateLimitedError`): the row waits ``retry_after`` (every
  channel waits, for the global limit);
- anything else (5xx, network, a timeout, a bug): the row is retried with
  exponential backoff, never dropped.

A crash between Discord creating the message and the row being marked leaves
the row leased; it is sent again (when the lease expires, or at once when the
dispatcher restarts under the same ``owner``) with the same nonce, and Discord
returns the message it already created. Discord remembers a nonce for a few
minutes only, so a row retried later than that (:func:`needs_lookup`) is first
looked for among the channel's recent messages, and marked sent if it is there.

A row whose destination names ``edit_of`` edits the message that row posted
(:mod:`bot.delivery.edits`) instead of posting, with the same outcomes; an edit
whose message was never posted, or was deleted since, is given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from bot.background import BackgroundLoop
from bot.delivery.destination import Destination
from bot.delivery.edits import send_edit
from bot.delivery.errors import (
    ChannelUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TransientDeliveryError,
)
from bot.delivery.message import MessageSpec
from bot.delivery.policy import RetryPolicy, check_shard, needs_lookup
from bot.delivery.publisher import Publisher
from bot.ops import metrics

if TYPE_CHECKING:  # bot.storage.outbox imports bot.delivery.message
    from bot.storage.outbox import OutboxRow, OutboxStore

log = logging.getLogger(__name__)

_T = TypeVar("_T")

DEFAULT_RETRY = RetryPolicy()

#: ``on_channel_unavailable(channel_id, reason)``; may be a coroutine function.
ChannelCallback = Callable[[int, str], Awaitable[None] | None]


class Action(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    HOLD = "hold"
    RETRY = "retry"


#: A send's metric outcome: a held channel's row is tried again once the channel is back.
_OUTCOME = {Action.SENT: "sent", Action.FAILED: "failed", Action.HOLD: "retried", Action.RETRY: "retried"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with a row after one send."""

    action: Action
    #: For RETRY: how long to wait before the next attempt.
    delay: timedelta = timedelta(0)
    #: The error text recorded on the row (or the hold reason).
    error: str = ""
    #: For RETRY after a global 429: every channel waits ``delay``.
    pause_all: bool = False


def outcome(error: BaseException | None, *, attempts: int, retry: RetryPolicy) -> Outcome:
    """Decide a row's fate from the error its send raised (None: it was sent). Pure."""
    if error is None:
        return Outcome(Action.SENT)
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, MessageRejectedError | ValueError):
        return Outcome(Action.FAILED, error=text)
    if isinstance(error, ChannelUnavailableError):
        return Outcome(Action.HOLD, error=str(error) or type(error).__name__)
    if isinstance(error, RateLimitedError):
        return Outcome(
            Action.RETRY, delay=timedelta(seconds=error.retry_after), error=text, pause_all=error.is_global
        )
    return Outcome(Action.RETRY, delay=retry.delay(attempts), error=text)


class OutboxDispatcher:
    """Posts the outbox's rows through a :class:`Publisher`; see the module docstring.

    ``clock`` returns the current timezone-aware time (what leases and retry
    times are computed from). ``owner`` names this dispatcher in leases: give a
    stable one per process slot (``"bot"``, ``"shard-3"``) so a restart frees
    its previous life's leases at once; by default it is random and a crashed
    process's rows wait for ``lease`` to expire. ``shard`` is ``(shard_id,
    shard_count)``: only that shard's guilds (DMs count as shard 0).
    """

    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        *,
        clock: Callable[[], datetime],
        concurrency: int = 8,
        on_channel_unavailable: ChannelCallback | None = None,
        shard: tuple[int, int] | None = None,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        send_timeout_s: float = 60.0,
        poll_interval_s: float = 1.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if lease.total_seconds() <= send_timeout_s:
            # Otherwise a slow send's row could be claimed again while it is still being sent.
            raise ValueError("the lease must be longer than send_timeout_s")
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._concurrency = concurrency
        self._on_channel_unavailable = on_channel_unavailable
        self._shard = check_shard(shard)
        self._stable_owner = owner is not None
        self.owner = owner or f"dispatcher-{secrets.token_hex(6)}"
        self._lease = lease
        self._send_timeout_s = send_timeout_s
        self._poll_interval_s = poll_interval_s
        self._retry = retry

        self._loop = BackgroundLoop("outbox dispatch", self._round, interval_s=poll_interval_s, logger=log)
        self._progress = asyncio.Event()
        #: channel id -> the task posting that channel's rows.
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._running = False
        self._stopping = False
        self._claiming = False
        #: loop.time() before which nothing is sent (a global 429).
        self._paused_until = 0.0

    # --- control ----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether :meth:`run` is running."""
        return self._running

    def notify(self) -> None:
        """Look for work now (call right after an enqueue) instead of at the next poll."""
        self._loop.wake()

    async def run(self) -> None:
        """Deliver until :meth:`stop` (or cancellation). Never raises for a failing row or database."""
        if self._running:
            raise RuntimeError("this dispatcher is already running")
        self._running = True
        try:
            if self._stable_owner:
                self._claiming = True  # drain() must not find "nothing due" before the leases are free
                try:
                    await self._guarded(self._store.release_leases(self.owner), "freeing old leases")
                finally:
                    self._claiming = False
            await self._loop.run()
            while self._workers:  # stopped: the sends in flight finish (stop() cancels them after its grace)
                await asyncio.gather(*self._workers.values(), return_exceptions=True)
        finally:
            # Cancelled (a crash, for the rows in flight): stop the workers, keep their leases.
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._running = self._stopping = False
            self._progress.set()

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop after the sends in flight (cancelled after ``grace_s``); free this dispatcher's leases.

        Rows whose send was cut short are sent again by the next dispatcher,
        with the same nonce. Safe to call when not running.
        """
        self._stopping = True
        self._loop.stop()
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        while self._running:
            self._progress.clear()
            await self._progress.wait()
        await self._guarded(self._store.release_leases(self.owner), "freeing leases")

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - the contract's signature
        """Wait until nothing is due: no send in flight and no claimable row. For tests.

        Rows waiting for a retry time still in the future, or in held channels,
        do not count. Raises TimeoutError after ``timeout`` seconds, and
        RuntimeError if :meth:`run` is not running.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in range(10):  # a run() task created just before may not have started yet
            if self._running:
                break
            await asyncio.sleep(0)
        while True:
            if not self._running:
                raise RuntimeError("drain() needs run() running")
            self._progress.clear()
            self.notify()
            if not self._workers and not self._claiming:
                due = await self._store.due_count(now=self._clock(), shard=self._shard)
                if due == 0 and not self._workers and not self._claiming:
                    return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"outbox not drained after {timeout}s ({len(self._workers)} channels busy)"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), min(remaining, 0.05))

    async def resume_channel(self, channel_id: int) -> bool:
        """Deliver a held channel's rows again (access is back); True if it was held.

        Called when the channel's subscriptions are resumed. Raises StorageError.
        """
        released = await self._store.release_channel(channel_id)
        self.notify()
        return released

    # --- the loop ---------------------------------------------------------------

    async def _round(self) -> float:
        """Claim what the free workers can take; return how long to wait for the next claim."""
        await self._fill()
        pause = self._paused_until - asyncio.get_running_loop().time()
        return min(self._poll_interval_s, pause) if pause > 0 else self._poll_interval_s

    async def _fill(self) -> None:
        free = self._concurrency - len(self._workers)
        if free <= 0 or self._paused_until > asyncio.get_running_loop().time():
            return
        self._claiming = True
        try:
            rows = await self._guarded(
                self._store.claim(
                    owner=self.owner,
                    now=self._clock(),
                    lease=self._lease,
                    limit=free,
                    shard=self._shard,
                    exclude_channels=self._workers.keys(),
                ),
                "claiming rows",
            )
            for row in rows or ():
                self._workers[row.channel_id] = asyncio.create_task(
                    self._work(row), name=f"outbox channel={row.channel_id}"
                )
        finally:
            self._claiming = False

    async def _work(self, first: OutboxRow) -> None:
        channel_id = first.channel_id
        row: OutboxRow | None = first
        try:
            # Each delivery hands over the channel's next row, claimed, or None to end this worker.
            while row is not None and not self._stopping:
                row = await self._deliver(row)
        except Exception:
            # A database error: the row's lease expires and it is tried again.
            log.exception("outbox channel=%s: delivery stopped", channel_id)
        finally:
            self._workers.pop(channel_id, None)
            self._loop.wake()
            self._progress.set()

    async def _already_posted(
        self, row: OutboxRow, spec: MessageSpec, destination: Destination
    ) -> int | None:
        """The message an earlier attempt at ``row`` created, when the nonce may no longer
        find it (see :func:`needs_lookup`); ``None`` otherwise or when it cannot be told.
        """
        if not needs_lookup(
            attempts=row.attempts,
            created_at=row.created_at,
            now=self._clock(),
            uses_nonce=destination.uses_nonce,
        ):
            return None
        try:
            looking = self._publisher.find_posted(
                row.channel_id, spec, since=row.created_at, destination=destination
            )
            found = await asyncio.wait_for(looking, self._send_timeout_s)
        except Exception as e:  # looking is a precaution: sending with the nonce is still right
            log.info("outbox row=%s: could not look for an earlier post: %s", row.id, e)
            return None
        if found is not None:
            log.info("outbox row=%s channel=%s: already posted as message %s", row.id, row.channel_id, found)
        return found

    async def _send(self, row: OutboxRow) -> tuple[int, BaseException | None]:
        """Post ``row`` (unless an earlier attempt did); the message id, or the error it raised."""
        try:
            spec = row.message_spec()
            spec.validate()
            destination = row.message_destination()
            if destination.edit_of is not None:  # idempotent: no nonce, nothing to look for
                edited = send_edit(
                    self._store,
                    self._publisher,
                    row,
                    destination.edit_of,
                    spec,
                    timeout_s=self._send_timeout_s,
                )
                return await edited, None
            found = await self._already_posted(row, spec, destination)
            if found is not None:
                return found, None
            sending = self._publisher.send(row.channel_id, spec, nonce=row.nonce, destination=destination)
            return await asyncio.wait_for(sending, self._send_timeout_s), None
        except TimeoutError:
            return 0, TransientDeliveryError(f"no answer from Discord within {self._send_timeout_s:g}s")
        except (ValueError, MessageRejectedError, ChannelUnavailableError, RateLimitedError) as e:
            return 0, e
        except Exception as e:
            if not isinstance(e, TransientDeliveryError):
                log.exception(
                    "outbox row=%s channel=%s: unexpected error from the publisher", row.id, row.channel_id
                )
            return 0, e

    async def _deliver(self, row: OutboxRow) -> OutboxRow | None:
        """Send one row and record the result; return the channel's next row, claimed, if it may follow."""
        loop = asyncio.get_running_loop()
        pause = self._paused_until - loop.time()
        if pause > 0:  # a global 429 seen by another channel's worker
            await asyncio.sleep(pause)
        message_id, error = await self._send(row)
        decision = outcome(error, attempts=row.attempts, retry=self._retry)
        now = self._clock()
        metrics.post_done(row.kind, _OUTCOME[decision.action])
        if decision.action is Action.SENT:
            if self._stopping:
                await self._store.mark_sent(row.id, message_id=message_id, now=now)
                return None
            return await self._store.mark_sent_and_claim_next(
                row.id, row.channel_id, message_id=message_id, owner=self.owner, now=now, lease=self._lease
            )
        if decision.action is Action.FAILED:
            log.warning(
                "outbox row=%s kind=%s channel=%s given up: %s",
                row.id,
                row.kind,
                row.channel_id,
                decision.error,
            )
            await self._store.mark_failed(row.id, owner=self.owner, error=decision.error)
            return await self._claim_next(row.channel_id)
        if decision.action is Action.HOLD:
            # Hold before giving the row back, so no other dispatcher picks it up in between.
            newly_held = await self._store.hold_channel(row.channel_id, reason=decision.error, now=now)
            await self._store.mark_retry(row.id, owner=self.owner, error=decision.error, retry_at=now)
            log.warning("outbox channel=%s held: %s", row.channel_id, decision.error)
            if newly_held:
                await self._channel_unavailable(row.channel_id, decision.error)
            return None
        if decision.pause_all:
            self._paused_until = max(self._paused_until, loop.time() + decision.delay.total_seconds())
        log.info(
            "outbox row=%s channel=%s attempt %d failed, retrying in %ss: %s",
            row.id,
            row.channel_id,
            row.attempts,
            decision.delay.total_seconds(),
            decision.error,
        )
        await self._store.mark_retry(
            row.id, owner=self.owner, error=decision.error, retry_at=now + decision.delay
        )
        return None  # the row still heads its channel: the channel waits for its retry time

    async def _claim_next(self, channel_id: int) -> OutboxRow | None:
        """The channel's next row, claimed, if it is due and this dispatcher is not stopping."""
        if self._stopping:
            return None
        rows = await self._store.claim(
            owner=self.owner, now=self._clock(), lease=self._lease, limit=1, channel_id=channel_id
        )
        return rows[0] if rows else None

    async def _channel_unavailable(self, channel_id: int, reason: str) -> None:
        if self._on_channel_unavailable is None:
            return
        try:
            result = self._on_channel_unavailable(channel_id, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("outbox channel=%s: on_channel_unavailable failed", channel_id)

    async def _guarded(self, awaitable: Awaitable[_T], what: str) -> _T | None:
        try:
            return await awaitable
        except Exception:
            log.exception("outbox: %s failed", what)
            return None
