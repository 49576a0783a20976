"""The embed of ``/newsdesk status``: a server's news at a glance, then the details.

The summary comes first (feeds by state, posts, what waits); then the feeds that need a look
(failing, with their last error, and paused), the healthy ones, the next digests, the alert
settings and the bot itself. Every list is cut at whole lines, with what was left out counted.
Text from feeds (titles, errors) and typed by members (keywords, reasons) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.delivery.message import EmbedSpec, FieldSpec, MessageSpec
from bot.discord_text import discord_length, escape_markdown, fit, link, one_line
from bot.status.chart import FILENAME, ChartData
from bot.storage.alerts import ChannelAlertSettings
from bot.storage.digests import DigestScheduleRow
from bot.storage.feed_records import SubscriptionStatus
from bot.storage.server_status import ServerStatus

COLOUR_OK, COLOUR_WARN = 0x23A55A, 0xF0B232
#: Characters of each list field; together within the 6000 of a message with the rest.
_FEEDS_ROOM, _OTHER_ROOM = 1024, 700
_NAME_WIDTH, _WHY_WIDTH = 60, 140
_MORE = " (`/feed list` shows every feed)"


@dataclass(frozen=True, slots=True)
class BotInfo:
    """The process answering: what the status shows of the bot itself."""

    version: str
    uptime_s: float
    #: The gateway heartbeat's round trip for the server's shard; None before the first one.
    latency_s: float | None


def chart_data(status: ServerStatus) -> ChartData:
    figures = status.figures
    return ChartData(status.hourly, figures.feeds_active, figures.feeds_failing, figures.feeds_paused)


def status_message(status: ServerStatus, info: BotInfo, *, filtered: bool) -> MessageSpec:
    """The status as one embed whose image is the attached chart (:data:`FILENAME`).
    ``filtered``: only the channels the member can see were counted (said in the footer)."""
    failing = [s for s in status.subscriptions if not s.paused and s.feed.failures > 0]
    paused = [s for s in status.subscriptions if s.paused]
    healthy = [s for s in status.subscriptions if not s.paused and s.feed.failures == 0]
    fields = []
    if failing:
        fields.append(
            _list_field(f"⚠️ Failing ({len(failing)})", map(_failing_line, failing), _FEEDS_ROOM, _MORE)
        )
    if paused:
        fields.append(_list_field(f"⏸️ Paused ({len(paused)})", map(_paused_line, paused), _OTHER_ROOM, _MORE))
    if healthy:
        fields.append(
            _list_field(f"✅ Healthy ({len(healthy)})", map(_healthy_line, healthy), _OTHER_ROOM, _MORE)
        )
    fields.append(_digests_field(status.digests))
    fields.append(_alerts_field(status.alerts, status.keywords))
    fields.append(FieldSpec("🤖 newsdesk", _bot_line(info)))
    footer = "Counting only the channels you can see." if filtered else "Counting every channel."
    embed = EmbedSpec(
        title="News in this server",
        description=_summary(status),
        colour=COLOUR_WARN if failing or status.held else COLOUR_OK,
        fields=tuple(fields),
        image_url=f"attachment://{FILENAME}",
        footer_text=f"{footer} Chart: posts per hour over the last 24 hours, and feeds by state.",
        timestamp=status.now,
    )
    return MessageSpec(embeds=(embed,))


def _summary(status: ServerStatus) -> str:
    f = status.figures
    total = f.feeds_active + f.feeds_failing + f.feeds_paused
    if total == 0:
        lines = ["**No feeds yet.** Add one with `/feed add`."]
    else:
        lines = [
            f"**{_plural(total, 'feed')}**: {f.feeds_active} healthy · {f.feeds_failing} failing · "
            f"{f.feeds_paused} paused"
        ]
    posts = f"**{_plural(f.posts_24h, 'post')}** in the last 24 hours"
    lines.append(posts + (f" · {f.failed_24h} could not be posted" if f.failed_24h else ""))
    if f.waiting and f.oldest_waiting_at is not None:
        where = f" in <#{status.oldest_waiting_channel}>" if status.oldest_waiting_channel else ""
        lines.append(
            f"**{f.waiting} waiting** to be posted, the oldest since {_when(f.oldest_waiting_at)}{where}"
        )
    else:
        lines.append("Nothing waiting to be posted.")
    for channel_id, reason in list(status.held.items())[:3]:
        why = fit(escape_markdown(one_line(reason)), _WHY_WIDTH)
        lines.append(f"⚠️ I can't post in <#{channel_id}> ({why}): its posts wait until `/feed resume`.")
    return "\n".join(lines)


def _feed_name(status: SubscriptionStatus) -> str:
    feed = status.feed
    return f"`#{status.subscription.id}` {link(fit(feed.title or feed.url, _NAME_WIDTH), feed.url)}"


def _failing_line(status: SubscriptionStatus) -> str:
    feed = status.feed
    error = fit(escape_markdown(one_line(feed.last_error or "unknown error")), _WHY_WIDTH)
    since = f", last success {_when(feed.last_success_at)}" if feed.last_success_at else ""
    where = f"{_feed_name(status)} → <#{status.subscription.channel_id}>"
    return f"{where}: {error} ({feed.failures}× in a row{since})"


def _paused_line(status: SubscriptionStatus) -> str:
    reason = fit(escape_markdown(one_line(status.paused_reason or "no reason given")), _WHY_WIDTH)
    return f"{_feed_name(status)} → <#{status.subscription.channel_id}>: {reason}"


def _healthy_line(status: SubscriptionStatus) -> str:
    return f"{_feed_name(status)} → <#{status.subscription.channel_id}>"


def _digests_field(digests: list[DigestScheduleRow]) -> FieldSpec:
    if not digests:
        return FieldSpec("🗞️ Digests", "None yet; `/digest schedule` sets one up.")
    lines = []
    for row in digests:
        when = "paused" if row.status != "active" else f"next {_when(row.next_due_at)}"
        # describe() is our words and a time zone database name: nothing to escape.
        lines.append(f"<#{row.channel_id}>: {when}, {row.describe()}")
    return _list_field(f"🗞️ Digests ({len(digests)})", lines, _OTHER_ROOM)


def _alerts_field(alerts: list[ChannelAlertSettings], keywords: dict[int, list[str]]) -> FieldSpec:
    settings = {a.channel_id: a for a in alerts if a.breaking_enabled}
    channels = sorted(set(settings) | set(keywords))
    if not channels:
        return FieldSpec("🚨 Alerts", "None; `/alerts breaking` and `/alerts keywords add` set them up.")
    lines = []
    for channel_id in channels:
        parts = []
        if channel_id in settings:
            rule = settings[channel_id].settings
            role = f", mentioning <@&{rule.role_id}>" if rule.role_id else ""
            parts.append(
                f"breaking news when {rule.min_sources}+ outlets report a story within "
                f"{rule.window_minutes} min{role}"
            )
        words = keywords.get(channel_id, [])
        if words:
            shown = ", ".join(escape_markdown(fit(one_line(w), 40)) for w in words[:5])
            more = f" and {len(words) - 5} more" if len(words) > 5 else ""
            parts.append(f"topics {shown}{more}")
        lines.append(f"<#{channel_id}>: " + "; ".join(parts))
    return _list_field(f"🚨 Alerts ({len(channels)} channels)", lines, _OTHER_ROOM)


def _bot_line(info: BotInfo) -> str:
    latency = info.latency_s
    if latency is None or not math.isfinite(latency):
        gateway = "gateway latency not measured yet"
    else:
        gateway = f"gateway latency {round(latency * 1000)} ms"
    return f"version {info.version} · up {duration(info.uptime_s)} · {gateway}"


def _list_field(name: str, lines: Iterable[str], room: int, hint: str = "") -> FieldSpec:
    """Whole lines within ``room`` characters, then how many were left out (and ``hint``)."""
    every = list(lines)
    kept: list[str] = []
    used = 0
    for index, line in enumerate(every):
        cost = discord_length(line) + 1
        last = index == len(every) - 1
        more = f"…and {len(every) - index} more{hint}"
        if used + cost > room or (not last and used + cost + discord_length(more) > room):
            kept.append(more)
            break
        kept.append(line)
        used += cost
    return FieldSpec(name, "\n".join(kept))


def duration(seconds: float) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``42 s``: the largest unit and the next one."""
    whole = max(int(seconds), 0)
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    for index, (unit, size) in enumerate(units):
        if whole >= size or unit == "s":
            text = f"{whole // size} {unit}"
            if index + 1 < len(units):
                next_unit, next_size = units[index + 1]
                text += f" {whole % size // next_size} {next_unit}"
            return text
    return "0 s"  # pragma: no cover - the loop always returns


def _when(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
