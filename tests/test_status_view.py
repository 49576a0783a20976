"""The chart and the embed of /newsdesk status (bot/status): a PNG of a fixed size rendered on a
thread, in well under a second whatever the figures; feed text escaped, every list cut at whole
lines within Discord's limits."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from datetime import UTC, datetime, timedelta

from PIL import Image

from bot.alerts.types import AlertSettings
from bot.digests.schedule import DigestSchedule
from bot.feeds.types import Feed
from bot.status.chart import FILENAME, HEIGHT, WIDTH, ChartData, chart_png, render_chart, short_count
from bot.status.report import BotInfo, chart_data, duration, status_message
from bot.storage.alerts import ChannelAlertSettings
from bot.storage.digests import DigestScheduleRow
from bot.storage.feed_records import SubscriptionRecord, SubscriptionStatus
from bot.storage.operator import ServerFigures
from bot.storage.server_status import ServerStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
INFO = BotInfo(version="0.1.0", uptime_s=3 * 86400 + 4 * 3600 + 5, latency_s=0.042)
HOSTILE = "**Breaking** @everyone <@123> [click](https://evil.example) # heading"


def png_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.verify()  # a complete, valid PNG (its checksums included)
    return Image.open(io.BytesIO(data))


def sub(number: int, *, title: str | None = None, failures: int = 0, error: str | None = None,
        paused: str | None = None, channel: int = 10) -> SubscriptionStatus:  # fmt: skip
    record = SubscriptionRecord(
        id=number, feed_id=number, guild_id=1, channel_id=channel, created_by=None, created_at=NOW,
        include=(), exclude=(), extract=False, status="paused" if paused else "active",
        paused_reason=paused,
    )  # fmt: skip
    feed = Feed(url=f"https://feeds.example/{number}.xml", title=title or f"Feed {number}", id=number,
                failures=failures, last_error=error, last_success_at=NOW - timedelta(hours=5))  # fmt: skip
    return SubscriptionStatus(record, feed)


def server(subs: list[SubscriptionStatus], **extra: object) -> ServerStatus:
    paused = sum(s.paused for s in subs)
    failing = sum(1 for s in subs if not s.paused and s.feed.failures)
    values: dict[str, object] = dict(
        guild_id=1, now=NOW, subscriptions=subs,
        figures=ServerFigures(1, len(subs) - paused - failing, failing, paused, posts_24h=17, failed_24h=1,
                              waiting=2, oldest_waiting_at=NOW - timedelta(minutes=40)),
        hourly=tuple(range(24)), oldest_waiting_channel=10, held={}, digests=[], alerts=[], keywords={},
    )  # fmt: skip
    values.update(extra)
    return ServerStatus(**values)  # type: ignore[arg-type]


# --- the chart -------------------------------------------------------------------------------


async def test_the_chart_is_a_png_of_a_fixed_size_whatever_the_figures() -> None:
    for data in (
        ChartData(hourly=[0] * 24, healthy=0, failing=0, paused=0),
        ChartData(hourly=list(range(24)), healthy=9, failing=2, paused=1),
        ChartData(hourly=[10**15] * 24, healthy=10**9, failing=1, paused=-3),
    ):
        image = png_of(await chart_png(data))
        assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    assert FILENAME.endswith(".png")


async def test_the_chart_draws_the_bars() -> None:
    empty = png_of(render_chart(ChartData([0] * 24, 0, 0, 0))).convert("RGB")
    busy = png_of(render_chart(ChartData([5] * 24, 3, 2, 1))).convert("RGB")
    bar_blue, healthy_green = (88, 101, 242), (35, 165, 90)
    colours = {colour for _, colour in busy.getcolors(maxcolors=WIDTH * HEIGHT) or []}
    assert bar_blue in colours and healthy_green in colours
    empty_colours = {colour for _, colour in empty.getcolors(maxcolors=WIDTH * HEIGHT) or []}
    assert bar_blue not in empty_colours and healthy_green not in empty_colours


async def test_the_chart_renders_off_the_event_loop() -> None:
    data = ChartData(list(range(24)), 9, 2, 1)
    task = asyncio.create_task(chart_png(data))
    await asyncio.sleep(0)  # the task's first step: rendered in it, it would be done now
    assert not task.done()
    ticks = 0
    while not task.done():  # the loop keeps running meanwhile
        ticks += 1
        await asyncio.sleep(0)
    assert ticks > 0 and png_of(task.result()).size == (WIDTH, HEIGHT)


def test_the_chart_renders_in_well_under_a_second() -> None:
    data = ChartData([10**6 + i for i in range(24)], 1234, 56, 7)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        render_chart(data)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.1 and max(times) < 0.5, times


def test_counts_are_labelled_in_a_few_characters() -> None:
    assert [short_count(n) for n in (0, 999, 1000, 1234, 56_789, 2_500_000, 10**15)] == [
        "0", "999", "1.0k", "1.2k", "56k", "2.5M", "999G",
    ]  # fmt: skip


# --- the embed -------------------------------------------------------------------------------


def test_the_summary_says_the_picture_at_a_glance() -> None:
    status = server([sub(1), sub(2, failures=3, error="HTTP 503"), sub(3, paused="too noisy")])
    (embed,) = status_message(status, INFO, filtered=True).embeds
    assert embed.description is not None
    assert "**3 feeds**: 1 healthy · 1 failing · 1 paused" in embed.description
    assert "**17 posts** in the last 24 hours · 1 could not be posted" in embed.description
    assert "**2 waiting** to be posted, the oldest since <t:" in embed.description
    assert "in <#10>" in embed.description
    assert embed.image_url == f"attachment://{FILENAME}"
    names = [f.name for f in embed.fields]
    assert names == [
        "⚠️ Failing (1)",
        "⏸️ Paused (1)",
        "✅ Healthy (1)",
        "🗞️ Digests",
        "🚨 Alerts",
        "🤖 newsdesk",
    ]
    fields = {f.name: f.value for f in embed.fields}
    assert "HTTP 503 (3× in a row, last success <t:" in fields["⚠️ Failing (1)"]
    assert "too noisy" in fields["⏸️ Paused (1)"]
    assert fields["🤖 newsdesk"] == "version 0.1.0 · up 3 d 4 h · gateway latency 42 ms"
    assert embed.footer_text is not None and "channels you can see" in embed.footer_text
    assert chart_data(status) == ChartData(tuple(range(24)), 1, 1, 1)


def test_feed_text_is_escaped() -> None:
    status = server([sub(1, title=HOSTILE), sub(2, failures=1, error=HOSTILE), sub(3, paused=HOSTILE)],
                    keywords={10: [HOSTILE]})  # fmt: skip
    (embed,) = status_message(status, INFO, filtered=False).embeds
    text = "\n".join(f.value for f in embed.fields)
    assert "@everyone" not in text and "<@123>" not in text
    assert "**Breaking**" not in text and "[click](" not in text
    assert "\\*\\*Breaking\\*\\*" in text and "\\[click\\]" in text
    # The feed's own link is the only one: to its URL, with the escaped title as the label.
    assert "](https://feeds.example/1.xml)" in text


def test_long_lists_are_cut_at_whole_lines_within_discords_limits() -> None:
    subs = [sub(n, title="A long feed title " * 4, failures=n % 3, error="timeout " * 30,
                paused="stopped " * 30 if n % 5 == 0 else None) for n in range(1, 400)]  # fmt: skip
    digests = [
        DigestScheduleRow(n, 1, 100 + n, DigestSchedule(kind="daily", hour=8, minute=0), 10,
                          NOW + timedelta(hours=n), None, None, NOW, "active")
        for n in range(60)
    ]  # fmt: skip
    alerts = [ChannelAlertSettings(200 + n, 1, True, AlertSettings(role_id=5), NOW) for n in range(60)]
    spec = status_message(server(subs, digests=digests, alerts=alerts), INFO, filtered=False)
    spec.validate()
    (embed,) = spec.embeds
    for field in embed.fields[:3]:
        *lines, last = field.value.split("\n")
        assert last.startswith("…and ") and last.endswith("(`/feed list` shows every feed)"), last
        assert all(line.startswith("`#") for line in lines)
    assert embed.fields[3].value.split("\n")[-1].startswith("…and ")


def test_digests_alerts_and_held_channels_are_named() -> None:
    digest = DigestScheduleRow(1, 1, 10, DigestSchedule(kind="daily", hour=8, minute=0), 5,
                               NOW + timedelta(hours=3), None, None, NOW, "active")  # fmt: skip
    alert = ChannelAlertSettings(
        10, 1, True, AlertSettings(min_sources=4, window_minutes=30, role_id=77), NOW
    )
    status = server([], digests=[digest], alerts=[alert], keywords={11: ["storm", "flood"]},
                    held={12: "Missing Access"})  # fmt: skip
    (embed,) = status_message(status, INFO, filtered=False).embeds
    fields = {f.name: f.value for f in embed.fields}
    assert fields["🗞️ Digests (1)"].startswith("<#10>: next <t:")
    assert "every day at 08:00 (UTC), top 5 stories" in fields["🗞️ Digests (1)"]
    assert (
        "<#10>: breaking news when 4+ outlets report a story within 30 min, mentioning <@&77>"
        in (fields["🚨 Alerts (2 channels)"])
    )
    assert "<#11>: topics storm, flood" in fields["🚨 Alerts (2 channels)"]
    assert embed.description is not None and "**No feeds yet.**" in embed.description
    assert "I can't post in <#12> (Missing Access)" in embed.description


def test_durations_and_an_unmeasured_latency() -> None:
    assert [duration(s) for s in (0, 42, 61, 3600 * 2 + 300, 86400 * 3 + 3600)] == [
        "0 s", "42 s", "1 min 1 s", "2 h 5 min", "3 d 1 h",
    ]  # fmt: skip
    info = BotInfo(version="1", uptime_s=5, latency_s=float("inf"))
    (embed,) = status_message(server([]), info, filtered=False).embeds
    assert embed.fields[-1].value == "version 1 · up 5 s · gateway latency not measured yet"
