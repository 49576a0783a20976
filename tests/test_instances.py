"""Instances (bot.storage.instances) on a real database: registration, heartbeat, death, reaping."""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime, timedelta

from bot.storage import Database
from bot.storage.instances import InstanceStore, default_instance_id

T0 = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
BOUND = timedelta(seconds=30)


def test_the_default_id_names_host_pid_and_start_time_and_stays_the_same() -> None:
    instance_id = default_instance_id()
    assert re.fullmatch(rf"[\w.-]+-{os.getpid()}-\d{{8}}T\d{{6}}", instance_id), instance_id
    assert instance_id.startswith(socket.gethostname()[:20].replace(" ", "_"))
    assert default_instance_id() == instance_id
    assert len(instance_id) <= 100  # run.instance_id's limit


async def test_register_beat_and_live(db: Database) -> None:
    store = InstanceStore(db)
    await store.register("a", host="h1", pid=10, roles=("worker",), now=T0, expires_at=T0 + BOUND)
    await store.register("b", host="h2", pid=20, roles=("gateway", "worker"), now=T0, expires_at=T0 + BOUND)
    live = await store.live(T0)
    assert [(i.id, i.host, i.pid, i.roles) for i in live] == [
        ("a", "h1", 10, ("worker",)),
        ("b", "h2", 20, ("gateway", "worker")),
    ]
    assert live[0].started_at == live[0].heartbeat_at == T0 and live[0].expires_at == T0 + BOUND

    # a beats, b goes silent: at b's expiry only a is alive (expires_at > now, not >=).
    assert await store.beat("a", now=T0 + BOUND / 2, expires_at=T0 + BOUND * 1.5)
    assert [i.id for i in await store.live(T0 + BOUND - timedelta(microseconds=1))] == ["a", "b"]
    assert [i.id for i in await store.live(T0 + BOUND)] == ["a"]
    a = await store.get("a")
    assert a is not None and a.heartbeat_at == T0 + BOUND / 2 and a.started_at == T0
    assert a.alive(T0 + BOUND) and not a.alive(T0 + BOUND * 1.5)


async def test_a_beat_after_death_or_reaping_fails_and_registering_again_revives(db: Database) -> None:
    store = InstanceStore(db)
    await store.register("a", host="h1", pid=10, roles=("worker",), now=T0, expires_at=T0 + BOUND)
    # Paused past the bound: the others hold it dead, so the beat says so...
    assert not await store.beat("a", now=T0 + BOUND, expires_at=T0 + 2 * BOUND)
    assert await store.live(T0 + BOUND) == []
    # ...and the process registers again (same process: it keeps its start time).
    await store.register("a", host="h1", pid=10, roles=("worker",), now=T0 + BOUND, expires_at=T0 + 2 * BOUND)
    revived = await store.live(T0 + BOUND)
    assert [(i.id, i.started_at, i.heartbeat_at) for i in revived] == [("a", T0, T0 + BOUND)]
    # Another process under the same id (a restart with a stable run.instance_id): a new start.
    await store.register("a", host="h1", pid=11, roles=("worker",), now=T0 + BOUND, expires_at=T0 + 2 * BOUND)
    restarted = await store.get("a")
    assert restarted is not None and (restarted.pid, restarted.started_at) == (11, T0 + BOUND)

    assert not await store.beat("never-registered", now=T0, expires_at=T0 + BOUND)


async def test_deregister_marks_dead_at_once_and_reap_forgets_the_long_dead(db: Database) -> None:
    store = InstanceStore(db)
    for name in ("a", "b", "c"):
        await store.register(name, host="h", pid=1, roles=("worker",), now=T0, expires_at=T0 + BOUND)
    assert await store.beat("a", now=T0 + timedelta(seconds=10), expires_at=T0 + timedelta(seconds=40))
    await store.deregister("a")  # a clean stop: dead as of its last beat, not at its expiry
    assert [i.id for i in await store.live(T0 + timedelta(seconds=10))] == ["b", "c"]
    dead = await store.get("a")
    assert dead is not None and dead.expires_at == T0 + timedelta(seconds=10)

    later = T0 + timedelta(hours=1)
    assert await store.beat("c", now=T0 + timedelta(seconds=20), expires_at=later + BOUND)
    # a died at T0+10s, b at T0+30s: with dead_for=1h at later+20s, only a is old enough.
    assert await store.reap(now=later + timedelta(seconds=20), dead_for=timedelta(hours=1)) == 1
    assert await store.get("a") is None and await store.get("b") is not None
    assert await store.reap(now=later + timedelta(seconds=30), dead_for=timedelta(hours=1)) == 1
    assert [i.id for i in await store.live(later)] == ["c"]
