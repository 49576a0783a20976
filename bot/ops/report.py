"""What the operator's commands print: plain-text tables and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.storage.feed_records import SubscriptionStatus
from bot.storage.operator import PostEntry, ServerFigures

_ERROR_WIDTH = 80


def feed_state(status: SubscriptionStatus) -> str:
    return "paused" if status.paused else "failing" if status.failing else "active"


def _detail(status: SubscriptionStatus) -> str:
    if status.paused:
        return status.paused_reason or ""
    return status.feed.last_error or "" if status.failing else ""


def _clip(text: str | None, width: int = _ERROR_WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines) + "\n"


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _guild(guild_id: int | None) -> str:
    return "DM" if guild_id is None else str(guild_id)


# --- subscriptions ---------------------------------------------------------------------------


def subscriptions_text(found: Sequence[SubscriptionStatus]) -> str:
    if not found:
        return "no subscriptions match\n"
    rows = [
        (
            str(s.subscription.id),
            _guild(s.subscription.guild_id),
            str(s.subscription.channel_id),
            feed_state(s),
            str(s.feed.failures),
            s.feed.url,
            _clip(_detail(s)),
        )
        for s in found
    ]
    header = ("ID", "SERVER", "CHANNEL", "STATE", "FAILURES", "FEED", "WHY")
    return _table(header, rows) + f"{len(found)} subscriptions\n"


def subscriptions_json(found: Sequence[SubscriptionStatus]) -> str:
    items = [
        {
            "id": s.subscription.id,
            "guild_id": s.subscription.guild_id,
            "channel_id": s.subscription.channel_id,
            "state": feed_state(s),
            "feed_url": s.feed.url,
            "feed_title": s.feed.title,
            "failures": s.feed.failures,
            "last_error": s.feed.last_error,
            "paused_reason": s.paused_reason,
            "last_success_at": _iso(s.feed.last_success_at),
            "next_check_at": _iso(s.feed.next_check_at),
        }
        for s in found
    ]
    return json.dumps(items, indent=2) + "\n"


# --- outbox --------------------------------------------------------------------------------


def posts_text(posts: Sequence[PostEntry], now: datetime) -> str:
    if not posts:
        return "no posts match\n"
    rows = [
        (
            str(p.id),
            _guild(p.guild_id),
            str(p.channel_id),
            p.kind,
            p.status + (" (held)" if p.held else ""),
            str(p.attempts),
            _ago(p.created_at, now),
            _clip(p.last_error),
        )
        for p in posts
    ]
    header = ("ID", "SERVER", "CHANNEL", "KIND", "STATUS", "ATTEMPTS", "QUEUED", "LAST ERROR")
    return _table(header, rows) + f"{len(posts)} posts\n"


def posts_json(posts: Sequence[PostEntry], now: datetime) -> str:
    items = [
        {
            "id": p.id,
            "guild_id": p.guild_id,
            "channel_id": p.channel_id,
            "kind": p.kind,
            "status": p.status,
            "held": p.held,
            "attempts": p.attempts,
            "last_error": p.last_error,
            "created_at": _iso(p.created_at),
            "next_attempt_at": _iso(p.next_attempt_at),
            "sent_at": _iso(p.sent_at),
        }
        for p in posts
    ]
    return json.dumps(items, indent=2) + "\n"


# --- figures -------------------------------------------------------------------------------


def figures_text(figures: Sequence[ServerFigures], now: datetime) -> str:
    if not figures:
        return "no servers yet\n"
    rows = [
        (
            _guild(f.guild_id),
            str(f.feeds_active),
            str(f.feeds_failing),
            str(f.feeds_paused),
            str(f.posts_24h),
            str(f.failed_24h),
            str(f.waiting),
            _ago(f.oldest_waiting_at, now),
        )
        for f in figures
    ]
    header = ("SERVER", "ACTIVE", "FAILING", "PAUSED", "POSTS 24H", "FAILED 24H", "WAITING", "OLDEST WAITING")
    totals = _totals(figures)
    return _table(header, rows) + (
        f"{len(figures)} servers; feeds {totals['active']} active, {totals['failing']} failing, "
        f"{totals['paused']} paused; {totals['posts_24h']} posts in 24 h; {totals['waiting']} waiting\n"
    )


def figures_json(figures: Sequence[ServerFigures], now: datetime) -> str:
    servers: list[dict[str, Any]] = [
        {
            "guild_id": f.guild_id,
            "feeds": {"active": f.feeds_active, "failing": f.feeds_failing, "paused": f.feeds_paused},
            "posts_24h": f.posts_24h,
            "failed_24h": f.failed_24h,
            "waiting": f.waiting,
            "oldest_waiting_at": _iso(f.oldest_waiting_at),
            "oldest_waiting_age_s": None
            if f.oldest_waiting_at is None
            else round((now - f.oldest_waiting_at).total_seconds(), 1),
        }
        for f in figures
    ]
    return (
        json.dumps({"at": now.isoformat(), "servers": servers, "totals": _totals(figures)}, indent=2) + "\n"
    )


def _totals(figures: Sequence[ServerFigures]) -> dict[str, int]:
    return {
        "active": sum(f.feeds_active for f in figures),
        "failing": sum(f.feeds_failing for f in figures),
        "paused": sum(f.feeds_paused for f in figures),
        "posts_24h": sum(f.posts_24h for f in figures),
        "failed_24h": sum(f.failed_24h for f in figures),
        "waiting": sum(f.waiting for f in figures),
    }
