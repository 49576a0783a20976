"""The operator's HTTP listener (bot/ops): /healthz, /readyz and /metrics on a real socket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.core import Newsdesk
from bot.delivery.memory import MemoryPublisher
from bot.errors import ConfigError
from bot.ops.health import REUSE_S
from tests.tcp_proxy import TcpProxy
from tests.test_cli import assert_one_line_error, run_cli


def ops_settings(db_url: str, tmp_path: Path, roles: str, *, port: int | None = 0) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": db_url},
            "extract": {"workers": 1},
            "health": {"heartbeat_file": str(tmp_path / "heartbeat")},
            "metrics": {"port": port},
            # A beat every second: a heartbeat older than 2 s is stale.
            "run": {"roles": roles, "takeover_s": 3},
        }
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get(http: aiohttp.ClientSession, core: Newsdesk, path: str) -> tuple[int, Any]:
    assert core.listener is not None and core.listener.port
    async with http.get(f"http://127.0.0.1:{core.listener.port}{path}") as response:
        body: Any = await (response.json() if path != "/metrics" else response.text())
        return response.status, body


async def wait_for(
    http: aiohttp.ClientSession, core: Newsdesk, status: int, timeout_s: float = 20
) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        got, body = await get(http, core, "/readyz")
        if got == status:
            return dict(body)
        assert time.monotonic() < deadline, f"/readyz still answers {got}: {body}"
        await asyncio.sleep(0.2)


async def test_a_worker_is_alive_ready_and_scraped(db_url: str, tmp_path: Path, http: Any) -> None:
    async with Newsdesk(ops_settings(db_url, tmp_path, "worker"), publisher=MemoryPublisher()) as core:
        await core.start_duties()
        assert core.listener is not None
        port = core.listener.port
        assert await get(http, core, "/healthz") == (200, {"alive": True})
        status, body = await get(http, core, "/readyz")
        assert status == 200, body
        assert body == {
            "ready": True,
            "checks": {"database": "ok", "heartbeat": "ok", "worker": "ok"},
            "not_ready": {},
        }
        status, text = await get(http, core, "/metrics")
        assert status == 200
        assert 'newsdesk_process_info{roles="worker",shards="",version="0.1.0"} 1.0' in text
        assert 'newsdesk_ready{check="database"} 1.0' in text
        assert "newsdesk_heartbeat_age_seconds " in text
        assert "process_cpu_seconds_total" in text  # the default registry's collectors
    # Closed with the core.
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.get(f"http://127.0.0.1:{port}/healthz")


async def test_a_gateway_is_ready_when_every_shard_is_connected(tmp_path: Path, http: Any) -> None:
    states = {0: True, 1: False}
    url = f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
    async with Newsdesk(ops_settings(url, tmp_path, "gateway")) as core:
        await core.start_duties(healthy=lambda: True, shards=lambda: states)
        status, body = await get(http, core, "/readyz")
        assert status == 503
        assert body["not_ready"] == {"gateway": "shard 1 not connected"}
        assert body["checks"] == {"database": "ok", "heartbeat": "ok", "gateway": "shard 1 not connected"}
        _, text = await get(http, core, "/metrics")
        assert "newsdesk_gateway_shards 2.0" in text and "newsdesk_gateway_shards_connected 1.0" in text
        assert 'newsdesk_ready{check="gateway"} 0.0' in text
        states[1] = True
        await asyncio.sleep(REUSE_S)
        assert (await wait_for(http, core, 200))["checks"]["gateway"] == "ok"
        states.clear()  # not launched yet, or every shard gone
        await asyncio.sleep(REUSE_S)
        assert (await wait_for(http, core, 503))["not_ready"] == {"gateway": "no shard connected yet"}


async def test_a_gateway_without_shards_reports_its_connection(tmp_path: Path, http: Any) -> None:
    connected = False
    url = f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
    async with Newsdesk(ops_settings(url, tmp_path, "gateway")) as core:
        await core.start_duties(healthy=lambda: connected)
        assert (await wait_for(http, core, 503))["not_ready"] == {"gateway": "not connected to Discord"}
        connected = True
        await asyncio.sleep(REUSE_S)
        await wait_for(http, core, 200)


async def test_no_listener_without_a_port(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
    async with Newsdesk(ops_settings(url, tmp_path, "gateway", port=None)) as core:
        await core.start_duties()
        assert core.listener is None


async def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        url = f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
        settings = ops_settings(url, tmp_path, "gateway", port=taken.getsockname()[1])
        async with Newsdesk(settings) as core:
            with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+") as caught:
                await core.start_duties()
            assert caught.value.key == "metrics.port"
    finally:
        taken.close()


@pytest.mark.postgres
# Every job that reads the database fails while it is cut off, and says so.
@pytest.mark.allow_error_logs("cannot connect to the database", "database error on")
async def test_readyz_fails_while_the_database_is_down_and_recovers(
    postgres_database: Any, tmp_path: Path, http: Any
) -> None:
    from tests.conftest import empty_postgres

    url = make_url(await empty_postgres(postgres_database))
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = ops_settings(through, tmp_path, "worker")
        async with Newsdesk(settings, publisher=MemoryPublisher()) as core:
            await core.start_duties()
            await wait_for(http, core, 200)
            await proxy.cut()
            down = await wait_for(http, core, 503)
            assert "database" in down["not_ready"], down
            assert (await get(http, core, "/healthz"))[0] == 200  # alive all along
            # The heartbeat cannot reach the database either: the leases are about to go.
            stale = await wait_for_problem(http, core, "heartbeat")
            assert stale["not_ready"]["heartbeat"].startswith("last heartbeat"), stale
            await proxy.restore()
            up = await wait_for(http, core, 200)
            assert up["checks"] == {"database": "ok", "heartbeat": "ok", "worker": "ok"}


async def wait_for_problem(
    http: aiohttp.ClientSession, core: Newsdesk, check: str, timeout_s: float = 20
) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        _, body = await get(http, core, "/readyz")
        if check in body["not_ready"]:
            return dict(body)
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_newsdesk_health_asks_the_listener(tmp_path: Path) -> None:
    """The compose healthcheck's command, as a subprocess, against a live gateway's listener."""
    states = {0: True}
    url = f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
    async with Newsdesk(ops_settings(url, tmp_path, "gateway")) as core:
        await core.start_duties(healthy=lambda: True, shards=lambda: states)
        assert core.listener is not None
        env = {"NEWSDESK_METRICS__PORT": str(core.listener.port), "NEWSDESK_METRICS__HOST": "0.0.0.0"}
        # The probe blocks: run it off this loop, which serves the listener.
        ready = await asyncio.to_thread(run_cli, "health", "--check", "readyz", env=env, cwd=tmp_path)
        assert ready.returncode == 0, ready.stderr
        assert ready.stdout.strip() == "readyz: 200 ready (database, heartbeat, gateway)"
        states[0] = False
        await asyncio.sleep(REUSE_S)
        # Without --check, a set metrics.port means /readyz.
        down = await asyncio.to_thread(run_cli, "health", env=env, cwd=tmp_path)
        assert_one_line_error(down, "readyz: 503 not ready: gateway: shard 0 not connected")
        alive = await asyncio.to_thread(run_cli, "health", "--check", "healthz", env=env, cwd=tmp_path)
        assert (alive.returncode, alive.stdout.strip()) == (0, "healthz: 200 alive")
        port = core.listener.port
    gone = await asyncio.to_thread(run_cli, "health", env={"NEWSDESK_METRICS__PORT": str(port)}, cwd=tmp_path)
    assert_one_line_error(gone, f"readyz: no answer from http://127.0.0.1:{port}/readyz")
    unset = await asyncio.to_thread(run_cli, "health", "--check", "readyz", cwd=tmp_path)
    assert_one_line_error(unset, "--check readyz needs metrics.port")


def test_metrics_settings_from_the_environment(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    settings = load_settings(empty, environ={"NEWSDESK_METRICS__PORT": "9100"})
    assert (settings.metrics.host, settings.metrics.port) == ("127.0.0.1", 9100)
    assert load_settings(empty, environ={}).metrics.port is None  # off by default
    with pytest.raises(ConfigError, match=r"metrics\.port") as caught:
        load_settings(empty, environ={"NEWSDESK_METRICS__PORT": "70000"})
    assert caught.value.key == "metrics.port"


@pytest.mark.postgres
@pytest.mark.allow_error_logs("cannot connect to the database", "database error on", "timed out", "Timeout")
async def test_readyz_says_when_the_database_stops_answering(
    postgres_database: Any, tmp_path: Path, http: Any
) -> None:
    """A partition (the connection open, nothing coming back): /readyz answers within its
    timeout, /healthz at once (nothing waits on the loop)."""
    from tests.conftest import empty_postgres

    url = make_url(await empty_postgres(postgres_database))
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with Newsdesk(ops_settings(through, tmp_path, "gateway")) as core:
            await core.start_duties(healthy=lambda: True, shards=lambda: {0: True})
            await wait_for(http, core, 200)
            proxy.stall()
            try:
                await asyncio.sleep(REUSE_S)
                started = time.monotonic()
                status, body = await get(http, core, "/readyz")
                took = time.monotonic() - started
                assert status == 503 and body["not_ready"]["database"] == "no answer within 3 s", body
                # The answer does not wait for the stuck connection to be given up.
                assert took < 3.5, took
                started = time.monotonic()
                assert (await get(http, core, "/healthz"))[0] == 200
                assert time.monotonic() - started < 0.5
            finally:
                proxy.unstall()
            await wait_for(http, core, 200)
