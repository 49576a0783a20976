"""EntryFilter.judge: one subscription's filter on one poll's new items, within a time budget;
Fanout: the filters of many servers on threads of their own."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime

from bot.feeds.fanout import Fanout
from bot.feeds.filters import EntryFilter
from bot.storage.feed_records import SubscriptionRecord
from tests.test_feed_misc import make_entry

EVIL = "a" * 40 + "!"  # "(a|aa)+$" backtracks exponentially on it


def test_cheap_verdicts_come_first_and_the_whole_batch_keeps_to_the_budget() -> None:
    entries = [make_entry(title=EVIL) for _ in range(30)] + [make_entry(title="Keep this")]
    evil = EntryFilter(include=["/(a|aa)+$/", "/^keep/i"])
    started = time.perf_counter()
    judged = evil.judge(entries, 0.2)
    elapsed = time.perf_counter() - started
    # Unbounded, each entry costs the filter's 50 ms: 1.5 s. A loaded machine adds, not that.
    assert elapsed < 0.6, f"judging took {elapsed * 1e3:.0f} ms"
    assert judged.passing == (False,) * 30 + (True,)
    assert (judged.timed_out, judged.not_judged) == (30, 0)


def test_entries_never_reached_are_not_judged_and_not_passed() -> None:
    entries = [make_entry(title=EVIL) for _ in range(5)]
    # Even an exclude filter: an item nobody could check against it is not posted.
    judged = EntryFilter(exclude=["/(a|aa)+$/"]).judge(entries, 0.0)
    assert judged.passing == (False,) * 5
    assert (judged.timed_out, judged.not_judged) == (0, 5)


def test_a_pattern_at_the_filters_own_limit_counts_as_no_match_as_before() -> None:
    entries = [make_entry(title=EVIL), make_entry(title="Fine")]
    exclude = EntryFilter(exclude=["/(a|aa)+$/"], timeout_s=0.01)
    judged = exclude.judge(entries, 5.0)
    assert judged.passing == (True, True)  # its exclude ran out of time: not excluded
    assert (judged.timed_out, judged.not_judged) == (1, 0)


def test_ordinary_filters_judge_everything_quickly() -> None:
    entries = [make_entry(title=f"Story {n} about football") for n in range(30)]
    judged = EntryFilter(include=["football", "/^story \\d+/i"], exclude=["betting"]).judge(entries)
    assert judged.passing == (True,) * 30
    assert (judged.timed_out, judged.not_judged) == (0, 0)
    assert EntryFilter(include=["tennis"]).judge(entries).passing == (False,) * 30
    assert EntryFilter().judge([]).passing == ()


def hostile_sub(n: int) -> SubscriptionRecord:
    """Server ``n``'s subscription to feed 1, with a filter that backtracks on EVIL titles."""
    return SubscriptionRecord(
        id=n, feed_id=1, guild_id=n, channel_id=n, created_by=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC), include=("/(a|aa)+$/",), exclude=(),
        extract=False, status="active", paused_reason=None,
    )  # fmt: skip


async def test_hostile_filters_keep_off_the_default_thread_pool() -> None:
    # Charset detection and feed discovery run on the loop's default pool: filters of many
    # servers, each running out its budget, must not fill it.
    servers = (os.cpu_count() or 1) + 8  # more than the default pool's threads
    entries = [make_entry(title=EVIL) for _ in range(30)]
    subs = {1: [hostile_sub(n) for n in range(servers)]}
    loop = asyncio.get_running_loop()
    judging = asyncio.create_task(Fanout().judge_all([(1, entries)], subs))
    await asyncio.sleep(0.05)  # the filter threads are busy
    assert not judging.done()
    started = loop.time()
    await loop.run_in_executor(None, time.sleep, 0)
    waited = loop.time() - started
    judged = await judging
    assert waited < 0.1, f"the default thread pool was held {waited * 1e3:.0f} ms by filters"
    assert len(judged) == servers and all(j.passing == (False,) * 30 for j in judged.values())
