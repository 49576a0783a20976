"""Named leases (bot.storage.leases) on a real database: who holds a singleton job, and the fence.

Row leases are tested through their stores (tests/test_outbox.py, tests/test_feed_storage.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.storage import Database, leases

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


async def test_one_owner_at_a_time_until_the_lease_runs_out(db: Database) -> None:
    async with db.session(write=True) as conn:
        assert await leases.acquire(conn, "job", "a", now=T0, until=T0 + LEASE)
        assert not await leases.acquire(conn, "job", "b", now=T0, until=T0 + LEASE)
        assert await leases.acquire(conn, "job", "a", now=T0 + LEASE / 2, until=T0 + 2 * LEASE)  # renewed
        assert not await leases.acquire(conn, "job", "b", now=T0 + LEASE, until=T0 + 3 * LEASE)
        assert await leases.acquire(conn, "other job", "b", now=T0, until=T0 + LEASE)  # leases are per name
        # a's renewed lease runs out: b takes over, and a's late write is fenced off.
        assert await leases.acquire(conn, "job", "b", now=T0 + 2 * LEASE, until=T0 + 3 * LEASE)
        assert not await leases.renew(conn, "job", "a", now=T0 + 2 * LEASE, until=T0 + 4 * LEASE)
        assert await leases.renew(conn, "job", "b", now=T0 + 2 * LEASE, until=T0 + 4 * LEASE)


async def test_renew_needs_an_unexpired_lease_and_release_frees_it_at_once(db: Database) -> None:
    async with db.session(write=True) as conn:
        assert not await leases.renew(conn, "job", "a", now=T0, until=T0 + LEASE)  # never taken
        assert await leases.acquire(conn, "job", "a", now=T0, until=T0 + LEASE)
        assert not await leases.renew(conn, "job", "a", now=T0 + LEASE, until=T0 + 2 * LEASE)  # ran out
        assert await leases.acquire(conn, "job", "a", now=T0 + LEASE, until=T0 + 2 * LEASE)
        assert not await leases.release(conn, "job", "b")  # not b's to give up
        assert await leases.release(conn, "job", "a")
        assert await leases.acquire(conn, "job", "b", now=T0 + LEASE, until=T0 + 2 * LEASE)  # at once
