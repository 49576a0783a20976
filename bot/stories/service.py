"""The story assigner: groups every new feed item into a story, in the background.

Items come from ``feed_items`` rows the poller wrote without a story. The assigner reads them in
arrival order (``feed_items.id``), hands them to a :class:`~bot.stories.StoryGrouper` in an
executor thread (the grouping is CPU work), and writes the story ids back in one transaction.

One process groups at a time. The grouper holds the recent stories in memory, so two processes
grouping at once would each see half of the items and split every story. A lease row
(``service_leases``) elects the assigner; the others only renew their attempt. Every write checks
the lease in its own transaction, so a process that paused past its lease writes nothing. The
lease is owned by the process's instance id (``owner``) and lasts the takeover bound
(``lease_s`` = ``run.takeover_s``): when the leader dies, its instance row expires and another
process takes over within the bound (:mod:`bot.storage.leases`), loading the saved state and
replaying the items grouped since, so story ids stay the same across the move.

Persistence: the grouper's state is saved to ``grouper_state`` every ``save_every_items`` items
or ``save_interval_s`` seconds (and at stop), in the same transaction as a batch's story ids.
Saving is not free: the state holds the vectors of every story of the last
``GroupingConfig.retention`` (14 days), megabytes for a busy bot, compressed and written whole.
Between saves, a restart loads the last state and *replays* the items assigned since
(``feed_items.id`` above the saved ``last_item_id``): grouping is deterministic for a given
state and item order, so the replay rebuilds the same stories and new items join them with the
same ids. The replay costs about one grouping pass per item since the save (the bench measures
both costs).

Merges: the grouper sometimes merges two stories whose centroids came close. The items already
written under the merged-away id are renamed to the surviving id, in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.background import BackgroundLoop
from bot.clock import utcnow
from bot.errors import StorageError
from bot.storage.stories import BatchWrite, StoryStore
from bot.stories.batch import GroupedBatch, decode_state, encode_state, group_batch
from bot.stories.errors import InvalidStoryStateError
from bot.stories.grouper import StoryGrouper
from bot.stories.types import GroupingConfig

__all__ = ["AssignStats", "AssignedHook", "StoryAssigner"]

log = logging.getLogger(__name__)

#: Called after each batch is written with the stories it touched and the batch's ``now``.
AssignedHook = Callable[[Sequence[str], datetime], Awaitable[object]]

LEASE_NAME = "story_assigner"


@dataclass(slots=True)
class AssignStats:
    """Counters since the assigner started, for status commands and the bench."""

    assigned: int = 0
    batches: int = 0
    replayed: int = 0
    loads: int = 0
    saves: int = 0
    lost_leases: int = 0
    hook_errors: int = 0
    grouping_s: float = 0.0
    last_state_bytes: int = 0


class StoryAssigner:
    """Assigns ``feed_items`` to stories: :meth:`run` in the background, :meth:`assign_pending` once.

    ``executor`` runs the grouping; it must be a thread executor (the grouper lives in this
    process). By default the assigner makes its own single thread, so batches never queue behind
    other work in the loop's default pool. ``on_assigned`` (e.g. ``AlertService.check_stories``)
    is called after each batch; its errors are logged, never raised.

    ``owner`` names this process in the lease: pass its instance id (``run.instance_id``), so the
    lease is free as soon as the process is dead (its instance row expired). ``lease_s`` is how
    long the lease lasts without renewal: pass the takeover bound (``run.takeover_s``); rounds
    come every ``idle_s``, at most a third of it.
    """

    def __init__(
        self,
        store: StoryStore,
        *,
        executor: Executor | None = None,
        clock: Callable[[], datetime] = utcnow,
        grouper_config: GroupingConfig | None = None,
        on_assigned: AssignedHook | None = None,
        batch_size: int = 500,
        idle_s: float = 10.0,
        lease_s: float = 120.0,
        save_every_items: int = 2000,
        save_interval_s: float = 600.0,
        owner: str | None = None,
        lease_name: str = LEASE_NAME,
    ) -> None:
        if isinstance(executor, ProcessPoolExecutor):
            raise TypeError("the story grouper lives in this process: give a thread executor")
        if batch_size < 1 or lease_s <= 0:
            raise ValueError("batch_size must be >= 1 and lease_s positive")
        # Renewed (each round) at least three times per lease, so a leader never lets it lapse.
        idle_s = min(idle_s, lease_s / 3)
        self._store = store
        self._own_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(1, thread_name_prefix="stories")
        self._clock = clock
        self._config = grouper_config
        self._on_assigned = on_assigned
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_s)
        self._save_every_items = save_every_items
        self._save_interval = timedelta(seconds=save_interval_s)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lease_name = lease_name
        self.stats = AssignStats()
        self._grouper: StoryGrouper | None = None
        self._last_item_id = 0
        self._lease_until: datetime | None = None
        self._unsaved_items = 0
        self._saved_at: datetime | None = None
        self._lock = asyncio.Lock()
        #: The current round's ``now`` and its start on the event loop's clock (see _lease_now).
        self._round_start: tuple[datetime, float] = (datetime.min, 0.0)
        self._loop = BackgroundLoop(
            "story assignment", self._round, interval_s=idle_s, quiet=(StorageError,), logger=log
        )

    # --- public API ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Whether this process held the lease at its last attempt."""
        return self._grouper is not None

    def notify(self) -> None:
        """New items were written: wake the loop now instead of after ``idle_s``."""
        self._loop.wake()

    async def assign_pending(self, now: datetime) -> int:
        """Group every item still without a story; return how many were assigned.

        Returns 0 without doing anything if another process holds the lease. Raises
        :class:`StorageError` if the database fails (the in-memory grouping is then dropped and
        reloaded at the next call, since it may be ahead of what was committed).
        """
        async with self._lock:
            self._round_start = (now, asyncio.get_running_loop().time())
            if not await self._take_lease(now):
                return 0
            try:
                if self._grouper is None:
                    await self._load(now)
                    if self._grouper is None:
                        return 0
                return await self._assign_all(now)
            except BaseException:
                self._grouper = None  # may hold items that were never committed
                raise

    async def run(self) -> None:
        """Assign in a loop until :meth:`stop`; a round's errors are logged (the next round comes
        after a backoff), never raised.
        """
        try:
            await self._loop.run()
        finally:
            await asyncio.shield(self._shutdown())

    async def stop(self) -> None:
        """Ask :meth:`run` to return after the round in flight (it saves the state and gives up the lease)."""
        self._loop.stop()

    async def _round(self) -> None:
        await self.assign_pending(self._clock())

    async def close(self) -> None:
        """Save, release the lease and shut the own executor down (when not run with :meth:`run`)."""
        await self._shutdown()
        if self._own_executor:
            self._executor.shutdown(wait=False)

    # --- lease and state ---------------------------------------------------------------

    async def _take_lease(self, now: datetime) -> bool:
        until = now + self._lease
        held = await self._store.acquire_lease(self._lease_name, self.owner, now=now, until=until)
        if not held:
            if self._grouper is not None:
                log.info("story assigner: lease taken by another process, idling")
                self.stats.lost_leases += 1
            self._grouper = None
            self._lease_until = None
            return False
        if self._grouper is not None and (self._lease_until is None or now >= self._lease_until):
            # Our lease lapsed before this renewal: another process may have grouped meanwhile.
            log.info("story assigner: lease lapsed, reloading the grouping state")
            self.stats.lost_leases += 1
            self._grouper = None
        self._lease_until = until
        return True

    async def _load(self, now: datetime) -> None:
        saved = await self._store.load_state(self._lease_name)
        loop = asyncio.get_running_loop()
        grouper: StoryGrouper | None = None
        last_item_id = 0
        if saved is not None:
            try:
                grouper = await loop.run_in_executor(self._executor, decode_state, saved.blob, self._config)
                last_item_id = saved.last_item_id
            except InvalidStoryStateError as e:
                # Starting afresh costs continuity for stories in progress, not correctness.
                log.error("story assigner: saved state unusable, starting afresh: %s", e)
        if grouper is None:
            grouper = StoryGrouper(self._config)
        self._grouper = grouper
        self._last_item_id = last_item_id
        self._saved_at = now if saved is not None else None
        self._unsaved_items = 0
        self.stats.loads += 1
        # Replay what was assigned after the save, in the same order, to rebuild the same stories.
        while True:
            rows = await self._store.assigned_items_after(self._last_item_id, limit=self._batch_size)
            if not rows:
                break
            grouped = await loop.run_in_executor(self._executor, group_batch, grouper, rows, None)
            self._last_item_id = rows[-1].id
            self._unsaved_items += len(rows)
            self.stats.replayed += len(rows)
            # A long replay must not outlast the lease: each chunk's write (or a bare renewal) renews it.
            if grouped.corrections or grouped.merged:
                if not await self._write(grouped, now, touched=False):
                    return  # lease lost while replaying: another process leads now
            elif not await self._renew():
                return
        log.info(
            "story assigner: loaded %s, replayed %d items grouped after it",
            f"the state saved at {saved.saved_at.isoformat()}" if saved else "an empty state",
            self._unsaved_items,
        )

    # --- assignment ----------------------------------------------------------------------

    async def _assign_all(self, now: datetime) -> int:
        assert self._grouper is not None
        loop = asyncio.get_running_loop()
        total = 0
        while True:
            rows = await self._store.pending_items(limit=self._batch_size)
            if not rows:
                break
            self._unsaved_items += len(rows)
            save = self._save_due(now)
            grouped = await loop.run_in_executor(
                self._executor,
                group_batch,
                self._grouper,
                rows,
                max(self._last_item_id, rows[-1].id) if save else None,
            )
            self._last_item_id = max(self._last_item_id, rows[-1].id)
            if not await self._write(grouped, now, touched=True):
                return total
            total += len(rows)
            self.stats.assigned += len(rows)
            self.stats.batches += 1
            self.stats.grouping_s += grouped.seconds
            await self._call_hook(grouped.touched, now)
            if len(rows) < self._batch_size:
                break
        return total

    def _lease_now(self) -> datetime:
        """The time for the lease: the round's ``now`` moved on by the time the round has taken.

        A round (a long replay, a backlog of many batches) may outlast the lease: each renewal
        counts from when it is made, not from the round's start. (The items, stories and hook
        keep the round's ``now``.)
        """
        now, started = self._round_start
        return now + timedelta(seconds=max(asyncio.get_running_loop().time() - started, 0.0))

    async def _renew(self) -> bool:
        now = self._lease_now()
        until = now + self._lease
        if await self._store.renew_lease(self._lease_name, self.owner, now=now, until=until):
            self._lease_until = until
            return True
        log.warning("story assigner: lease lost while loading the state; another process leads")
        self.stats.lost_leases += 1
        self._grouper = None
        self._lease_until = None
        return False

    def _save_due(self, now: datetime) -> bool:
        if self._saved_at is None or self._unsaved_items >= self._save_every_items:
            return True
        return now - self._saved_at >= self._save_interval

    async def _write(self, grouped: GroupedBatch, now: datetime, *, touched: bool) -> bool:
        batch = BatchWrite(
            assignments=grouped.assignments,
            merged=grouped.merged,
            stories=grouped.stories if touched or grouped.corrections else [],
            state=grouped.state,
        )
        lease_now = self._lease_now()
        until = lease_now + self._lease
        ok = await self._store.write_batch(
            batch, lease=self._lease_name, owner=self.owner, now=lease_now, lease_until=until
        )
        if not ok:
            log.warning("story assigner: lease lost before writing a batch; it will be regrouped")
            self.stats.lost_leases += 1
            self._grouper = None
            self._lease_until = None
            return False
        self._lease_until = until
        if grouped.state is not None:
            self._saved_at = now
            self._unsaved_items = 0
            self.stats.saves += 1
            self.stats.last_state_bytes = len(grouped.state[0])
        return True

    async def _call_hook(self, story_ids: Sequence[str], now: datetime) -> None:
        if self._on_assigned is None or not story_ids:
            return
        try:
            await self._on_assigned(story_ids, now)
        except Exception:
            # Alerts failing must not stop grouping; the stories are checked again when they grow.
            self.stats.hook_errors += 1
            log.exception("story assigner: the on_assigned hook failed for %d stories", len(story_ids))

    async def _shutdown(self) -> None:
        """Save the state if we lead, then give the lease up."""
        async with self._lock:
            if self._grouper is None:
                return
            now = self._clock()
            self._round_start = (now, asyncio.get_running_loop().time())
            try:
                if self._unsaved_items:
                    loop = asyncio.get_running_loop()
                    state = await loop.run_in_executor(
                        self._executor, encode_state, self._grouper, self._last_item_id
                    )
                    await self._write(GroupedBatch([], {}, [], [], state), now, touched=False)
                await self._store.release_lease(self._lease_name, self.owner)
            except StorageError as e:
                log.warning("story assigner: could not save or release at stop: %s", e)
            finally:
                self._grouper = None
                self._lease_until = None
