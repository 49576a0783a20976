"""The operator's listener of the real bot (`newsdesk run`, every role): /readyz follows the
gateway session, /metrics names the process, `newsdesk health` asks it."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import Harness
from tests.test_cli import run_cli

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"


async def readyz(http: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{BASE}/readyz") as response:
        return response.status, await response.json()


async def until(http: aiohttp.ClientSession, status: int, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    got: tuple[int, Any] = (0, None)
    while time.monotonic() < deadline:
        try:
            got = await readyz(http)
        except aiohttp.ClientConnectionError as e:
            got = (0, repr(e))
        if got[0] == status:
            return got[1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}; last: {got}")


# A refused IDENTIFY (the session start limit's window) keeps the shard out for seconds.
@pytest.mark.bot_config({"metrics": {"port": PORT}})
@pytest.mark.emulator(identify_window_s=8.0)
async def test_readyz_follows_the_gateway_session(newsdesk: Harness) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        ready = await until(http, 200)
        assert ready["checks"] == {"database": "ok", "heartbeat": "ok", "gateway": "ok", "worker": "ok"}
        async with http.get(f"{BASE}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{BASE}/metrics") as response:
            metrics = await response.text()
        assert 'newsdesk_process_info{roles="gateway,worker",shards="all",version="0.1.0"} 1.0' in metrics
        assert "newsdesk_gateway_shards_connected 1.0" in metrics
        # The operator's probe, as compose runs it, against the running bot.
        probe = await asyncio.to_thread(
            run_cli, "--config", str(newsdesk.config_path), "health", cwd=newsdesk.workdir
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.startswith("readyz: 200 ready (database, heartbeat, gateway, worker)")

        # The connection drops and Discord forgets the session: the bot must IDENTIFY again,
        # which is refused for a while.
        await newsdesk.emu.gateway.invalidate_sessions()
        await newsdesk.drop_gateway()
        down = await until(http, 503)
        assert down["not_ready"] == {"gateway": "shard 0 not connected"}, down
        assert await until(http, 200, timeout_s=40)
        assert newsdesk.emu.gateway.refused_identifies, "the new IDENTIFY was refused at first"
    await newsdesk.stop_bot()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await readyz(http)
