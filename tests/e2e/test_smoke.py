"""Smoke test: the real bot, as a subprocess, answers /fetch through the emulator."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Harness

pytestmark = pytest.mark.e2e


async def test_fetch_with_an_invalid_url_answers_an_ephemeral_error(newsdesk: Harness) -> None:
    assert "fetch" in newsdesk.emu.commands(), sorted(newsdesk.emu.commands())
    schema = newsdesk.emu.commands()["fetch"]
    url_option = next(o["name"] for o in schema["options"] if o["type"] == 3)
    result = await newsdesk.invoke("fetch", {url_option: "not a url"}, user=newsdesk.emu.default.member)
    assert result.ack_ms is not None and result.ack_ms < 3000
    assert result.ephemeral, result
    assert result.errors == []
    assert result.text, result
    # Nothing public was posted for a refused URL.
    assert newsdesk.messages(newsdesk.emu.default.general) == []


async def test_bot_resumes_after_a_gateway_drop(newsdesk: Harness) -> None:
    emu = newsdesk.emu
    await newsdesk.drop_gateway()
    await emu.gateway.wait_for(lambda: any(g.event == "RESUMED" for g in emu.recorder.events()), timeout_s=15)
    assert emu.gateway.identifies == 1  # resumed, not a new session
    result = await newsdesk.invoke("fetch", {"url": "not a url"})
    assert result.ephemeral and result.text


async def test_bot_comes_back_after_sigkill(newsdesk: Harness) -> None:
    assert await newsdesk.kill_bot() == -9
    await newsdesk.start_bot()
    assert newsdesk.emu.gateway.identifies == 2
    result = await newsdesk.invoke("fetch", {"url": "not a url"})
    assert result.ephemeral and result.text
    assert await newsdesk.stop_bot() == 0  # SIGTERM: a clean exit
