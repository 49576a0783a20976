"""/alerts breaking count_reprints end to end: real bot process, Discord emulator, local feeds.

A wire story reprinted word for word by three outlets counts once by default (no alert at three
outlets), and three times in a channel that set ``count_reprints`` (an alert).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, Item

pytestmark = pytest.mark.e2e

OUTLETS = ["alpha-news", "beta-times", "gamma-post"]
WIRE_TITLE = "Magnitude 6.8 earthquake strikes off the coast of Chile, tsunami warning lifted"
WIRE_LEAD = "SANTIAGO (AP) - A strong earthquake struck off the coast of Chile on Saturday, officials said."


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return {**FAST_POLLING, "stories": {"idle_s": 0.5}}


def alerts_in(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return [
        m
        for m in newsdesk.messages(channel)
        if m["author"].get("bot") and "Breaking" in (m.get("content") or "")
    ]


async def test_word_for_word_reprints_count_once_unless_the_channel_counts_them(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    news, general = newsdesk.emu.default.news, newsdesk.general
    served = [
        feeds.add_feed(
            f"/{outlet}.xml",
            title=outlet.replace("-", " ").title(),
            site_url=f"https://{outlet}.example/",
            items=[
                Item(
                    guid=f"{outlet}-old",
                    title=f"Local news {i} from {outlet}",
                    link=f"https://{outlet}.example/old",
                    summary="Old.",
                    published=datetime.now(UTC) - timedelta(days=3),
                )
            ],
        )
        for i, outlet in enumerate(OUTLETS)
    ]
    for outlet in OUTLETS:
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), news)
    await wait_until(lambda: len(newsdesk.messages(news)) >= 3, what="the first items")

    counted = await newsdesk.invoke(
        "alerts breaking", {"state": "on", "channel": general, "count_reprints": True}, user=newsdesk.admin
    )
    assert counted.ephemeral and "each word-for-word reprint counts" in counted.text, counted.text
    default = await newsdesk.invoke("alerts breaking", {"state": "on", "channel": news}, user=newsdesk.admin)
    assert default.ephemeral and "reprinted word for word counts once" in default.text, default.text

    for outlet, feed in zip(OUTLETS, served, strict=True):
        feed.publish(
            Item(
                guid=f"{outlet}-wire",
                title=WIRE_TITLE,
                link=f"https://{outlet}.example/world/chile-quake",
                summary=WIRE_LEAD,
                published=datetime.now(UTC),
            )
        )
    await wait_until(lambda: len(alerts_in(newsdesk, general)) == 1, timeout_s=40, what="the alert")
    [alert] = alerts_in(newsdesk, general)
    assert alert["embeds"][0]["footer"]["text"] == "3 outlets so far"
    await wait_until(
        lambda: (
            sum(WIRE_TITLE in (e.get("title") or "") for m in newsdesk.messages(news) for e in m["embeds"])
            >= 3
        ),
        what="the three copies posted",
    )
    await asyncio.sleep(3)  # the assigner has grouped them all by now: the default channel stays quiet
    assert alerts_in(newsdesk, news) == []
