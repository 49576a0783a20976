"""A process's presence (bot/presence.py) and the core's roles (bot/core.py start_duties)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core import Newsdesk
from bot.delivery.memory import MemoryPublisher
from bot.errors import ConfigError
from bot.presence import Presence
from bot.storage import Database
from bot.storage.instances import InstanceStore
from tests.test_cli import assert_one_line_error, run_cli

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def presence(db: Database, instance_id: str, clock: Clock, **kwargs: object) -> Presence:
    return Presence(db, instance_id, ("worker",), clock=clock, takeover_s=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a live process other than this one."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


async def register_other(db: Database, instance_id: str, *, host: str, pid: int) -> None:
    await InstanceStore(db).register(
        instance_id, host=host, pid=pid, roles=("worker",), now=NOW, expires_at=NOW + timedelta(seconds=30)
    )


async def test_a_second_live_process_is_refused_on_sqlite_only(db: Database, live_pid: int) -> None:
    await register_other(db, "other", host=socket.gethostname(), pid=live_pid)
    me = presence(db, "me", Clock())
    if db.dialect_name == "sqlite":
        with pytest.raises(ConfigError, match="SQLite is for one process"):
            await me.join()
        assert [i.id for i in await InstanceStore(db).live(NOW)] == ["other"]
    else:
        await me.join()
        try:
            assert sorted(i.id for i in await InstanceStore(db).live(NOW)) == ["me", "other"]
        finally:
            await me.leave()
    assert [i.id for i in await InstanceStore(db).live(NOW)] == ["other"]


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_previous_life_on_this_host_is_declared_dead_at_once(db: Database, dead_pid: int) -> None:
    await register_other(db, "crashed", host=socket.gethostname(), pid=dead_pid)
    me = presence(db, "me", Clock())
    await me.join()  # not refused, on SQLite either
    try:
        crashed = await InstanceStore(db).get("crashed")
        assert crashed is not None
        if db.dialect_name == "sqlite":  # one process only: it was this bot; its leases are free now
            assert [i.id for i in await InstanceStore(db).live(NOW)] == ["me"]
            assert crashed.expires_at <= NOW
        else:  # its row expires on its own within the bound
            assert crashed.expires_at == NOW + timedelta(seconds=30)
    finally:
        await me.leave()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_live_peer_with_the_same_host_and_pid_is_not_declared_dead(db: Database) -> None:
    # Host networking: two containers share a host name, and each bot is pid 1 of its namespace.
    await register_other(db, "peer", host=socket.gethostname(), pid=os.getpid())
    me = presence(db, "me", Clock())
    await me.join()
    try:
        assert sorted(i.id for i in await InstanceStore(db).live(NOW)) == ["me", "peer"]
    finally:
        await me.leave()


class TickingClock(Clock):
    """A clock that moves a second each time it is read (a restart waiting in real time)."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_restart_under_a_stable_id_waits_for_its_old_row_to_expire(db: Database) -> None:
    await InstanceStore(db).register(
        "worker-1", host="elsewhere", pid=1, roles=("worker",), now=NOW, expires_at=NOW + timedelta(seconds=3)
    )
    me = Presence(db, "worker-1", ("worker",), clock=TickingClock(), takeover_s=3)
    await me.join()
    try:
        row = await InstanceStore(db).get("worker-1")
        assert row is not None and row.host == socket.gethostname() and row.pid == os.getpid()
    finally:
        await me.leave()


async def test_a_live_process_elsewhere_with_the_same_id_is_refused(db: Database) -> None:
    await register_other(db, "worker-1", host="another-machine", pid=4242)
    with pytest.raises(ConfigError, match=r"run\.instance_id='worker-1'"):
        # Waits out the takeover bound (it could be this process's own row before a crash).
        await Presence(db, "worker-1", ("worker",), clock=Clock(), takeover_s=1).join()
    row = await InstanceStore(db).get("worker-1")
    assert row is not None and row.host == "another-machine"  # untouched


async def test_leave_removes_the_row_and_a_beat_after_being_reaped_registers_again(
    db: Database, tmp_path: Path
) -> None:
    clock = Clock()
    beat_file = tmp_path / "heartbeat"
    healthy = {"now": False}
    me = presence(db, "me", clock, heartbeat_file=str(beat_file), healthy=lambda: healthy["now"])
    await me.join()
    try:
        await InstanceStore(db).deregister("me")  # as if declared dead while paused
        await me._beat()
        assert [i.id for i in await InstanceStore(db).live(NOW)] == ["me"]
        assert not beat_file.exists()  # not healthy: the file is not touched
        healthy["now"] = True
        clock.now = NOW + timedelta(seconds=10)
        await me._beat()
        assert beat_file.exists()
        row = await InstanceStore(db).get("me")
        assert row is not None and row.expires_at == NOW + timedelta(seconds=40)
    finally:
        await me.leave()
    assert await InstanceStore(db).live(clock.now) == []


def settings_for(db_url: str, tmp_path: Path, **run: object) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": db_url},
            "extract": {"workers": 1},
            "health": {"heartbeat_file": str(tmp_path / "heartbeat")},
            "run": run,
        }
    )


async def test_the_gateway_role_runs_no_background_work(db_url: str, tmp_path: Path) -> None:
    async with Newsdesk(settings_for(db_url, tmp_path, roles="gateway"), publisher=MemoryPublisher()) as core:
        await core.start_duties()
        assert core.presence is not None
        (me,) = await core.presence.live_instances()
        assert me.roles == ("gateway",) and me.id == core.instance_id
        assert core._duties is None
        assert core.dispatcher is not None and not core.dispatcher.running


async def test_the_worker_role_runs_every_duty_and_stops_them(db_url: str, tmp_path: Path) -> None:
    async with Newsdesk(
        settings_for(db_url, tmp_path, roles="worker", instance_id="w1"), publisher=MemoryPublisher()
    ) as core:
        await core.start_duties()
        assert core._duties is not None and core._duties.running
        await asyncio.sleep(0.1)  # the jobs' tasks take their first step
        assert core.dispatcher is not None and core.dispatcher.running
        assert core.digest_scheduler.running
        assert core.poller.owner == core.stories.owner == core.dispatcher.owner == "w1"
    assert not core.digest_scheduler.running
    check = Database(db_url)
    try:
        assert await InstanceStore(check).live(datetime.now(UTC)) == []  # it left
    finally:
        await check.close()


async def test_a_worker_needs_a_publisher(db_url: str, tmp_path: Path) -> None:
    async with Newsdesk(settings_for(db_url, tmp_path, roles="worker")) as core:
        with pytest.raises(RuntimeError, match="publisher"):
            await core.start_duties()


@pytest.mark.parametrize(
    ("role", "message"),
    [("bogus", "invalid --role"), ("gateway,nothing", "invalid --role")],
)
def test_run_refuses_an_unknown_role(tmp_path: Path, role: str, message: str) -> None:
    result = run_cli("run", "--role", role, env={"DISCORD_TOKEN": "x.y.z"}, cwd=tmp_path)
    assert_one_line_error(result, message)


def test_the_role_option_overrides_the_setting() -> None:
    from bot.cli import with_roles

    settings = Settings.model_validate({"run": {"roles": "worker"}})
    assert with_roles(settings, "all").run.roles == ("gateway", "worker")
    assert with_roles(settings, "gateway").run.roles == ("gateway",)
    assert with_roles(settings, " worker , gateway ").run.roles == ("gateway", "worker")
    assert settings.run.roles == ("worker",)
    assert os.environ.get("NEWSDESK_RUN__ROLES") is None
