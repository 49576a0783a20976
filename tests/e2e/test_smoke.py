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
