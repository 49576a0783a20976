"""Helpers the feed end-to-end tests share: fast polling, waiting, reading posts, subscribing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.e2e.harness import Harness

# Poll every second, no spacing between requests to the loopback host.
FAST_POLLING = {"feeds": {"interval_s": 1, "min_interval_s": 1}}


async def wait_until(predicate: Callable[[], bool], *, timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.1)


def titles(newsdesk: Harness, channel: Any) -> list[str]:
    """The titles of the embeds posted in ``channel``, oldest first."""
    return [m["embeds"][0]["title"] for m in newsdesk.messages(channel) if m.get("embeds")]


async def subscribe(newsdesk: Harness, url: str, channel: Any) -> Any:
    """``/feed add`` as the admin; the private reply."""
    result = await newsdesk.invoke(
        "feed add", {"url": url, "channel": channel}, user=newsdesk.admin, timeout_s=30
    )
    assert result.errors == [], result
    assert result.ephemeral
    return result
