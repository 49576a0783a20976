"""/digest and /alerts end to end: real bot process, Discord emulator, local feeds, a movable clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, Item

pytestmark = pytest.mark.e2e

QUAKE_TITLES = [
    "Magnitude 6.8 earthquake strikes off the coast of Chile",
    "Strong 6.8 magnitude earthquake hits off Chile coast",
    "Chile earthquake: magnitude 6.8 quake strikes off the coast",
    "Earthquake of magnitude 6.8 strikes off coast of Chile, no tsunami warning",
]
OUTLETS = ["alpha-news", "beta-times", "gamma-post", "delta-herald"]


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    return tmp_path / "clock"


@pytest.fixture
def bot_config(clock_file: Path) -> dict[str, dict[str, Any]]:
    return {
        **FAST_POLLING,
        "stories": {"idle_s": 0.5},
        "digests": {"tick_s": 0.5},
        "testing": {"clock_file": str(clock_file)},
    }


def set_clock(clock_file: Path, moment: datetime) -> None:
    clock_file.write_text(moment.isoformat())


def quake(n: int, outlet: str) -> Item:
    return Item(
        guid=f"{outlet}-quake",
        title=QUAKE_TITLES[n],
        link=f"https://{outlet}.example/world/chile-quake",
        summary="A strong earthquake struck off the coast of Chile on Saturday, officials said.",
        published=datetime.now(UTC),
    )


def other(outlet: str, n: int, title: str) -> Item:
    return Item(
        guid=f"{outlet}-{n}",
        title=title,
        link=f"https://{outlet}.example/story/{n}",
        summary=f"{title}.",
        published=datetime.now(UTC) - timedelta(days=3),
    )


def add_outlets(feeds: FeedServer, count: int) -> list[Any]:
    unrelated = [
        "City council approves new tram line",
        "Local team wins the regional cup final",
        "Museum reopens after two years of renovation",
        "Farmers expect a record apple harvest",
    ]
    return [
        feeds.add_feed(
            f"/{outlet}.xml",
            title=outlet.replace("-", " ").title(),
            site_url=f"https://{outlet}.example/",
            items=[other(outlet, 1, unrelated[i])],
        )
        for i, outlet in enumerate(OUTLETS[:count])
    ]


def bot_messages(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return [m for m in newsdesk.messages(channel) if m["author"].get("bot")]


async def test_three_outlets_raise_one_breaking_alert_edited_by_a_fourth(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    served = add_outlets(feeds, 4)
    news, general = newsdesk.emu.default.news, newsdesk.general
    for outlet in OUTLETS:
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), news)
    await wait_until(lambda: len(bot_messages(newsdesk, news)) == 4, what="the first items")

    result = await newsdesk.invoke(
        "alerts breaking", {"state": "on", "channel": general}, user=newsdesk.admin
    )
    assert result.ephemeral and "3 or more outlets" in result.text

    for n in range(3):
        served[n].publish(quake(n, OUTLETS[n]))
    await wait_until(lambda: len(bot_messages(newsdesk, general)) == 1, timeout_s=40, what="a breaking alert")
    alert = bot_messages(newsdesk, general)[0]
    text = alert["content"] + " ".join(e.get("description") or "" for e in alert["embeds"])
    assert "Breaking" in text and "Chile" in text
    posts = newsdesk.emu.recorder.calls("POST", f"/channels/{general.id}/messages")
    assert posts[-1].body.get("allowed_mentions") == {"parse": []}  # no role set: nobody pinged

    served[3].publish(quake(3, OUTLETS[3]))

    def edited_with_four() -> bool:
        current = newsdesk.emu.messages.get(general.id, int(alert["id"]))
        return current is not None and "4" in " ".join(
            (e.get("footer") or {}).get("text", "") + (e.get("description") or "") for e in current["embeds"]
        )

    await wait_until(edited_with_four, timeout_s=40, what="the alert edited for a fourth outlet")
    await asyncio.sleep(2)
    assert len(bot_messages(newsdesk, general)) == 1  # edited, never posted again


async def test_scheduled_digest_is_posted_once_when_due(
    newsdesk: Harness, feeds: FeedServer, clock_file: Path
) -> None:
    start = datetime.now(UTC)  # the bot runs on real time until the test moves its clock
    served = add_outlets(feeds, 3)
    news = newsdesk.emu.default.news
    for outlet in OUTLETS[:3]:
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), news)
    for n in range(3):
        served[n].publish(quake(n, OUTLETS[n]))
    await wait_until(lambda: len(bot_messages(newsdesk, news)) == 6, what="the items")

    due_hour = (start + timedelta(hours=2)).hour
    result = await newsdesk.invoke(
        "digest schedule",
        {"frequency": "daily", "time": f"{due_hour:02d}:00", "timezone": "UTC", "channel": news},
        user=newsdesk.admin,
    )
    assert result.ephemeral and "every day" in result.text, result.text
    preview = await newsdesk.invoke("digest preview", {"channel": news}, user=newsdesk.member)
    assert preview.ephemeral and "Chile" in preview.text

    def digests() -> list[dict[str, Any]]:
        return [
            m for m in bot_messages(newsdesk, news) if "digest" in (m["embeds"][0].get("title") or "").lower()
        ]

    await asyncio.sleep(2)
    assert digests() == []  # not due yet

    due = (start + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    set_clock(clock_file, due + timedelta(minutes=1))
    await wait_until(lambda: len(digests()) == 1, what="the digest")
    set_clock(clock_file, due + timedelta(minutes=30))
    await asyncio.sleep(3)
    assert len(digests()) == 1  # posted once
    digest = digests()[0]
    description = digest["embeds"][0]["description"]
    # One entry for the story three outlets carried, naming them.
    assert description.count("Chile") >= 1
    assert "reported by" in description.lower()
    assert "Chile" in description.split("reported by")[0]  # the top story comes first
    assert all(f"{outlet}.example" in description for outlet in OUTLETS[:3]), description

    # A day later, the next one.
    set_clock(clock_file, due + timedelta(days=1, minutes=1))
    await wait_until(lambda: len(digests()) == 2, what="the next day's digest")

    shown = await newsdesk.invoke("digest show", {"channel": news}, user=newsdesk.member)
    assert "every day" in shown.text
    off = await newsdesk.invoke("digest off", {"channel": news}, user=newsdesk.admin)
    assert "stopped" in off.text


async def test_digest_commands_refuse_members_and_bad_input(newsdesk: Harness) -> None:
    refused = await newsdesk.invoke(
        "digest schedule", {"frequency": "daily", "time": "08:00"}, user=newsdesk.member
    )
    assert refused.ephemeral and "Manage Channels" in refused.text
    bad = await newsdesk.invoke(
        "digest schedule", {"frequency": "daily", "time": "25:00"}, user=newsdesk.admin
    )
    assert bad.ephemeral and "25:00" in bad.text
    zone = await newsdesk.invoke(
        "digest schedule",
        {"frequency": "daily", "time": "08:00", "timezone": "Mars/Olympus"},
        user=newsdesk.admin,
    )
    assert zone.ephemeral and "Mars/Olympus" in zone.text
    choices = await newsdesk.autocomplete(
        "digest schedule", {"frequency": "daily", "timezone": "paris"}, "timezone", user=newsdesk.admin
    )
    assert "Europe/Paris" in [c["value"] for c in choices.choices or []]
    refused = await newsdesk.invoke("alerts breaking", {"state": "on"}, user=newsdesk.member)
    assert refused.ephemeral and "Manage Channels" in refused.text


async def test_keywords_add_list_remove(newsdesk: Harness) -> None:
    added = await newsdesk.invoke("alerts keywords add", {"keyword": "earthquake"}, user=newsdesk.admin)
    assert added.ephemeral and "earthquake" in added.text
    listed = await newsdesk.invoke("alerts keywords list", {}, user=newsdesk.member)
    assert "earthquake" in listed.text
    removed = await newsdesk.invoke("alerts keywords remove", {"keyword": "earthquake"}, user=newsdesk.admin)
    assert "Removed" in removed.text
    listed = await newsdesk.invoke("alerts keywords list", {}, user=newsdesk.member)
    assert "No keywords" in listed.text
