"""Helpers the feed store's queries share: row mappers, the item insert, text cleaning."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.feeds.destinations import PostDelivery
from bot.feeds.types import Feed
from bot.storage.bulk import BulkInsert
from bot.storage.feed_records import ItemRow, SubscriptionRecord
from bot.storage.feed_tables import feed_items, feeds, subscriptions

# PostgreSQL refuses NUL in text; a feed may still contain one.
_NUL = "\x00"

_ITEM_INSERT = BulkInsert(
    feed_items,
    ("feed_id", "entry_key", "link_key", "title", "url", "summary", "image_url", "author", "published_at",
     "first_seen_at"),
    skip_conflicts_on=("feed_id", "entry_key"),
)  # fmt: skip


async def insert_items(conn: AsyncConnection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert item rows (:func:`item_values`), skipping those a feed already has."""
    # Chunk by chunk, rows made just before they are sent: between two chunks the event
    # loop runs (a batch of changed feeds can hold ten thousand items).
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, 1000)):
        await _ITEM_INSERT.run(conn, chunk)


def item_values(feed_id: int, item: ItemRow, now: datetime) -> tuple[Any, ...]:
    """An item row in :func:`insert_items`' column order."""
    return (
        feed_id,
        clean(item.entry_key),
        clean(item.link_key),
        clean(item.title),
        clean(item.url),
        clean(item.summary),
        clean(item.image_url),
        clean(item.author),
        item.published_at,
        now,
    )


def feed_columns() -> list[Any]:
    """The columns :func:`feed_record` reads, labelled apart from a subscription's."""
    return [
        feeds.c.id.label("f_id"),
        feeds.c.url.label("f_url"),
        feeds.c.title.label("f_title"),
        feeds.c.site_url.label("f_site_url"),
        feeds.c.icon_url.label("f_icon_url"),
        feeds.c.next_check_at.label("f_next_check_at"),
        feeds.c.last_checked_at.label("f_last_checked_at"),
        feeds.c.last_success_at.label("f_last_success_at"),
        feeds.c.last_error.label("f_last_error"),
        feeds.c.failures.label("f_failures"),
        feeds.c.status.label("f_status"),
        feeds.c.paused_reason.label("f_paused_reason"),
        feeds.c.created_at.label("f_created_at"),
    ]


def feed_record(row: Any) -> Feed:
    return Feed(
        id=row.f_id,
        url=row.f_url,
        title=row.f_title,
        site_url=row.f_site_url,
        icon_url=row.f_icon_url,
        next_check_at=row.f_next_check_at,
        last_checked_at=row.f_last_checked_at,
        last_success_at=row.f_last_success_at,
        last_error=row.f_last_error,
        failures=row.f_failures,
        status=row.f_status,
        paused_reason=row.f_paused_reason,
        created_at=row.f_created_at,
    )


def subscription_record(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        feed_id=row.feed_id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        created_by=row.created_by,
        created_at=row.created_at,
        include=tuple(row.include or ()),
        exclude=tuple(row.exclude or ()),
        extract=bool(row.extract),
        status=row.status,
        paused_reason=row.paused_reason,
        template=row.template,
        server_template=getattr(row, "post_template", None),
        mention_role_id=row.mention_role_id,
        mention_include=tuple(row.mention_include) if row.mention_include else None,
        delivery=PostDelivery.from_json(row.delivery),
    )


def guild_is(guild_id: int | None) -> Any:
    return subscriptions.c.guild_id.is_(None) if guild_id is None else subscriptions.c.guild_id == guild_id


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def clean(text: str | None) -> str | None:
    """``text`` without NUL characters (PostgreSQL refuses them)."""
    if text is None or _NUL not in text:
        return text
    return text.replace(_NUL, "")


def chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def aware(*values: datetime) -> None:
    """Raise :class:`ValueError` for a naive datetime."""
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
