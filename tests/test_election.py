"""Elections (bot.election) on a real database, two Database objects standing for two processes:
one leader at a time, takeover within the bound when the leader dies, and fencing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.election import Election, LeaseLost
from bot.storage import Database
from bot.storage.guild_settings import GuildSettingsStore, guild_settings
from bot.storage.instances import InstanceStore

T0 = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
BOUND = 30.0  # run.takeover_s
S = timedelta(seconds=1)


async def register(db: Database, instance_id: str, now: datetime) -> None:
    await InstanceStore(db).register(
        instance_id, host="h", pid=1, roles=("worker",), now=now, expires_at=now + BOUND * S
    )


async def beat(db: Database, instance_id: str, now: datetime) -> None:
    assert await InstanceStore(db).beat(instance_id, now=now, expires_at=now + BOUND * S)


async def manager_roles(db: Database) -> dict[int, int | None]:
    async with db.session() as conn:
        query = select(guild_settings.c.guild_id, guild_settings.c.manager_role_id)
        return dict((await conn.execute(query)).all())


async def test_one_leader_at_a_time_and_renewing_keeps_the_term(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    results = await asyncio.gather(a.campaign(T0), b.campaign(T0))
    assert sorted(results) == [False, True]
    leader, follower = (a, b) if a.is_leader else (b, a)
    term = leader.term
    assert term == 1 and follower.term is None
    for t in range(10, 100, 10):  # the leader campaigns (and beats) every third of the bound
        now = T0 + t * S
        await beat(db, "a", now)
        await beat(peer, "b", now)
        assert await leader.campaign(now)
        assert not await follower.campaign(now)
    assert leader.term == term  # renewals keep the term
    assert await follower.leader(T0 + 90 * S) == (leader.owner, term)
    assert Election(db, "other duty", follower.owner, term_s=BOUND).campaign_every_s == BOUND / 3
    assert await Election(db, "other duty", follower.owner, term_s=BOUND).campaign(T0)  # per name


async def test_a_dead_leader_is_replaced_within_the_bound_not_before(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    # A term much longer than the heartbeat's expiry: the takeover follows the heartbeat.
    a = Election(db, "duty", "a", term_s=600)
    b = Election(peer, "duty", "b", term_s=600)
    assert await a.campaign(T0)
    await beat(db, "a", T0 + 10 * S)  # a's last beat: it dies (kill -9) after it, at T0+40s
    for t in (10, 20, 30, 39):
        await beat(peer, "b", T0 + t * S)
        assert not await b.campaign(T0 + t * S), t  # a live peer's lease stays its own
    await beat(peer, "b", T0 + 40 * S)
    assert await b.campaign(T0 + 40 * S)
    assert (b.term, await b.leader(T0 + 40 * S)) == (2, ("b", 2))


async def test_a_restarted_process_takes_nothing_from_a_live_leader(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    a = Election(db, "duty", "a", term_s=BOUND)
    assert await a.campaign(T0)
    # Another process starts (new id), registers and campaigns at once and again and again.
    await register(peer, "a2", T0 + 5 * S)
    a2 = Election(peer, "duty", "a2", term_s=BOUND)
    for t in (5, 10, 15):
        assert not await a2.campaign(T0 + t * S)
    assert await a.campaign(T0 + 15 * S) and a.term == 1


async def test_without_instance_rows_a_lease_lasts_its_term(db: Database, peer: Database) -> None:
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    assert await a.campaign(T0)
    assert not await b.campaign(T0 + (BOUND - 1) * S)
    assert await b.campaign(T0 + BOUND * S)


async def test_a_stale_leaders_fenced_write_is_refused(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    assert await a.campaign(T0)
    async with a.fenced(T0 + 1 * S) as conn:  # the leader writes
        await conn.execute(guild_settings.insert().values(guild_id=1, manager_role_id=10, updated_at=T0))
    # a pauses past the bound (no beats); b (beating all along) takes over and writes.
    now = T0 + 31 * S
    await beat(peer, "b", T0 + 20 * S)
    assert await b.campaign(now)
    async with b.fenced(now) as conn:
        await conn.execute(guild_settings.insert().values(guild_id=2, manager_role_id=20, updated_at=now))
    # a wakes up, still thinking it leads: its write is refused, nothing of it is written.
    assert a.is_leader
    with pytest.raises(LeaseLost):
        async with a.fenced(now + S) as conn:
            await conn.execute(guild_settings.insert().values(guild_id=3, manager_role_id=30, updated_at=now))
    assert not a.is_leader
    assert await manager_roles(db) == {1: 10, 2: 20}


async def test_a_write_started_in_an_old_term_is_refused_after_the_lead_came_back(
    db: Database, peer: Database
) -> None:
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    assert await a.campaign(T0)
    started_in = a.term  # a reads and computes for a long while...
    assert await b.campaign(T0 + BOUND * S)  # ...b takes over (and may write), then stops
    await b.resign()
    assert await a.campaign(T0 + 40 * S)  # a leads again, in a new term
    assert (started_in, a.term) == (1, 3)
    async with db.session(write=True) as conn:
        assert not await a.fence(conn, T0 + 41 * S, term=started_in)
    # The fence of a write started in the current term passes.
    assert await a.campaign(T0 + 41 * S)
    async with db.session(write=True) as conn:
        assert await a.fence(conn, T0 + 41 * S, term=a.term)


async def test_a_dead_process_takes_and_renews_nothing_until_it_registers_again(db: Database) -> None:
    await register(db, "a", T0)
    a = Election(db, "duty", "a", term_s=600)
    assert await a.campaign(T0)
    later = T0 + BOUND * S  # a's heartbeat lapsed: the others hold it dead
    assert not await a.campaign(later)
    async with db.session(write=True) as conn:
        assert not await a.fence(conn, later, term=1)
    await register(db, "a", later)  # it registers again, as bot.presence does
    assert await a.campaign(later) and a.term == 1  # nobody took it meanwhile: the same term


async def test_a_takeover_waits_for_the_fenced_write_in_flight(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    assert await a.campaign(T0)
    await beat(peer, "b", T0 + 20 * S)
    now = T0 + BOUND * S  # a is dead for b...
    async with a.fenced(now - S) as conn:  # ...but a's write (checked at its own time) is under way
        takeover = asyncio.create_task(b.campaign(now))
        await asyncio.sleep(0.3)
        # PostgreSQL: the fence locked the lease row; SQLite: the write lock. Either way the
        # takeover cannot decide before the write commits.
        assert not takeover.done()
        await conn.execute(guild_settings.insert().values(guild_id=1, manager_role_id=10, updated_at=now))
    assert await asyncio.wait_for(takeover, 20)
    assert b.term == 2
    assert await GuildSettingsStore(db).manager_role(1) == 10


async def test_resign_frees_the_lead_at_once(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    a = Election(db, "duty", "a", term_s=BOUND)
    b = Election(peer, "duty", "b", term_s=BOUND)
    assert await a.campaign(T0)
    await a.resign()
    assert not a.is_leader
    assert await b.campaign(T0 + S) and b.term == 2
    with pytest.raises(LeaseLost):
        async with a.fenced(T0 + S):
            pass
