"""The real bot's /metrics during an end-to-end run: the feed checks, posts, 429s and
interaction acknowledgements it shows match what the feed server and the Discord emulator saw."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness
from tests.e2e.test_ops_endpoints import free_port
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e

PORT = free_port()
METRICS = f"http://127.0.0.1:{PORT}/metrics"
PATHS = ("/a.xml", "/b.xml", "/c.xml")

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


async def scrape(http: aiohttp.ClientSession) -> Samples:
    async with http.get(METRICS) as response:
        assert response.status == 200
        text = await response.text()
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[s.name][tuple(sorted(s.labels.items()))] = s.value
    return samples


def by(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, number in samples.get(name, {}).items():
        out[dict(labels)[label]] += number
    return out


async def settled(http: aiohttp.ClientSession, feeds: FeedServer, adding: int) -> tuple[Samples, int]:
    """A scrape with no feed request answered around it (the poller checks every second)."""
    deadline = time.monotonic() + 20
    checks = 0.0
    while time.monotonic() < deadline:
        before = sum(feeds.hits[p] for p in PATHS)
        samples = await scrape(http)
        checks = sum(samples.get("newsdesk_feed_checks_total", {}).values())
        if sum(feeds.hits[p] for p in PATHS) == before and checks == before - adding:
            return samples, before
        await asyncio.sleep(0.05)
    raise AssertionError(f"/metrics counts {checks} checks; the feed server saw {dict(feeds.hits)}")


@pytest.mark.bot_config({**FAST_POLLING, "metrics": {"port": PORT}})
async def test_metrics_show_the_checks_posts_and_429s_that_happened(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    news = newsdesk.emu.default.news
    a = feeds.add_feed("/a.xml", title="A", items=[item(1), item(2)])
    feeds.add_feed("/b.xml", title="B", items=[item(10)], validators=False)
    feeds.add_feed("/c.xml", title="C", items=[item(20)])
    # Discord refuses the first two posts with a 429 (discord.py waits and sends them again).
    injection = newsdesk.inject("POST /channels/*/messages", 429, count=2, retry_after=0.3)
    adding = 0  # requests of /feed add (finding and reading the feed), not poll checks
    for path in PATHS:
        await subscribe(newsdesk, feeds.url(path), news)
        adding += feeds.hits[path]  # its first poll check is a second away at least
    a.publish(item(3))
    await wait_until(lambda: "Story 3" in titles(newsdesk, news), timeout_s=40, what="the new item's post")
    assert injection.hits == 2
    # /c.xml breaks: its next checks are counted as 5xx errors.
    hits_when_broken = feeds.hits["/c.xml"]
    feeds.fail("/c.xml", 500)
    await wait_until(lambda: feeds.hits["/c.xml"] >= hits_when_broken + 2, timeout_s=20, what="failed checks")
    await wait_until(lambda: feeds.not_modified["/a.xml"] >= 2, timeout_s=20, what="304s")

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        samples, requests = await settled(http, feeds, adding)
    checks = by(samples, "newsdesk_feed_checks_total", "outcome")
    # Every poll check is one request.
    assert sum(checks.values()) == requests - adding
    assert checks["304"] == sum(feeds.not_modified[p] for p in PATHS)
    assert checks["http_5xx"] == feeds.hits["/c.xml"] - hits_when_broken
    assert checks["200"] >= 1  # a.xml's new item was parsed
    assert checks["unchanged"] >= 1  # b.xml sends no validators: the same body again

    posted = titles(newsdesk, news)
    posts = samples["newsdesk_posts_total"]
    assert len(posted) >= 4  # the newest item of each feed when added, then Story 3
    assert posts[(("kind", "feed"), ("outcome", "sent"))] == len(posted)
    assert posts[(("kind", "feed"), ("outcome", "queued"))] == len(posted)
    assert samples["newsdesk_feed_new_items_total"][()] >= 1
    assert samples["newsdesk_outbox_depth"][()] == 0

    assert_discord_side(newsdesk, samples)
    assert samples["newsdesk_poll_lag_seconds_count"][()] == sum(checks.values())
    assert samples["newsdesk_feed_parse_seconds_count"][()] >= checks["200"]
    assert samples["newsdesk_event_loop_lag_seconds_count"][()] >= 1
    assert samples["newsdesk_ready"][(("check", "database"),)] == 1


def assert_discord_side(newsdesk: Harness, samples: Samples) -> None:
    """The 429s and the interaction acknowledgements on /metrics are the emulator's."""
    refused = [
        r
        for r in newsdesk.emu.recorder.calls("POST", "/channels/")
        if r.status == 429 and r.path.endswith("/messages")
    ]
    assert len(refused) == 2
    route = (("route", "POST /channels/{channel_id}/messages"), ("scope", "shared"))
    assert samples["newsdesk_discord_429_total"][route] == 2
    assert sum(samples["newsdesk_discord_429_total"].values()) == len(
        [r for r in newsdesk.emu.recorder.requests if r.status == 429]
    )

    callbacks = [
        r
        for r in newsdesk.emu.recorder.calls("POST", "/interactions/")
        if r.path.endswith("/callback") and r.status < 300
    ]
    assert samples["newsdesk_interaction_ack_seconds_count"][()] == len(callbacks) >= 3
    assert 0 < samples["newsdesk_interaction_ack_seconds_sum"][()] < 3 * len(callbacks)
