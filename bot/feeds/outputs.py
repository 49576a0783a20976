"""What checking a feed writes, built from what it found: item rows, posts and notices. Pure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime

from bot.discord_text import escape_markdown, fit
from bot.feeds.decide import EntryKeys, NewItems
from bot.feeds.destinations import destination_for
from bot.feeds.filters import Judgement
from bot.feeds.identity import entry_key
from bot.feeds.posts import feed_item_message, feed_paused_notice, notice_message
from bot.feeds.types import Feed, FeedEntry, ParsedFeed
from bot.storage.feed_records import ItemRow, SubscriptionRecord
from bot.storage.outbox import OutboxMessage
from bot.templates import Template
from bot.types import Article

log = logging.getLogger(__name__)


def update_hint_s(parsed: ParsedFeed) -> int | None:
    """The feed's own "nothing new before" hint in seconds (``<ttl>``, ``sy:updatePeriod``)."""
    hints = [parsed.ttl_minutes * 60 if parsed.ttl_minutes else 0, parsed.update_period_s or 0]
    return max(hints) or None


def parsed_feed(url: str, parsed: ParsedFeed) -> Feed:
    """The feed at ``url`` as just parsed: what its posts show of it."""
    return Feed(url, parsed.title, parsed.link, parsed.icon_url)


def item_row(entry: FeedEntry, key: str, lkey: str | None) -> ItemRow:
    """The row remembering ``entry`` (summary bounded: it is for digests, not archives)."""
    summary = entry.summary[:2000] if entry.summary else None
    return ItemRow(
        entry_key=key,
        link_key=lkey,
        title=entry.title,
        url=entry.link,
        summary=summary,
        image_url=entry.image_url,
        author=entry.author,
        published_at=entry.published,
    )


def item_rows(
    entries: Sequence[FeedEntry], keys: Sequence[EntryKeys], new: NewItems, seen_link_keys: AbstractSet[str]
) -> tuple[tuple[ItemRow, ...], dict[int, str]]:
    """The rows of the entries ``new`` remembers (the first entry of each key), and the key of
    every entry by ``id(entry)``. A link key is kept only once known (seen, or remembered now).
    """
    by_key: dict[str, tuple[FeedEntry, str | None]] = {}
    key_of: dict[int, str] = {}
    for entry, (key, lkey) in zip(entries, keys, strict=True):
        by_key.setdefault(key, (entry, lkey))
        key_of[id(entry)] = key
    known_links = new.remember_link_keys | seen_link_keys
    rows = tuple(
        item_row(entry, key, lkey if lkey in known_links else None)
        for key, (entry, lkey) in by_key.items()
        if key in new.remember_keys
    )
    return rows, key_of


def post(
    sub: SubscriptionRecord,
    entry: FeedEntry,
    source: Feed,
    article: Article | None,
    *,
    key: str | None = None,
) -> OutboxMessage:
    """The outbox row posting ``entry`` to ``sub``'s channel. The dedup key makes a second
    enqueue of the same item for the same subscription a no-op.
    """
    item_key = key if key is not None else entry_key(entry)
    return OutboxMessage(
        channel_id=sub.channel_id,
        guild_id=sub.guild_id,
        kind="feed_item",
        dedup_key=post_dedup_key(sub.id, item_key),
        spec=feed_item_message(entry, source, article=article, template=effective_template(sub)),
        # A feed just parsed has no id yet: the subscription knows it (story threads need it).
        destination=destination_for(sub.delivery, entry, _with_id(source, sub.feed_id), item_key=item_key),
    )


def _with_id(source: Feed, feed_id: int) -> Feed:
    return source if source.id is not None else replace(source, id=feed_id)


def effective_template(sub: SubscriptionRecord) -> Template | None:
    """The subscription's own template, else its server's default, else ``None`` (built-in)."""
    return Template.from_json(sub.template) or Template.from_json(sub.server_template)


def post_dedup_key(subscription_id: int, key: str) -> str:
    return f"feed:{subscription_id}:{key}"


def pause_notices(
    subs: Sequence[SubscriptionRecord], source: Feed, reason: str, now: datetime
) -> tuple[OutboxMessage, ...]:
    """Told to every channel of a feed that was just paused."""
    spec = feed_paused_notice(source, reason)
    return tuple(
        OutboxMessage(
            channel_id=sub.channel_id,
            guild_id=sub.guild_id,
            kind="notice",
            dedup_key=f"feed-paused:{sub.id}:{now.isoformat()}",
            spec=spec,
        )
        for sub in subs
    )


def filter_notice(
    sub: SubscriptionRecord, feed_url: str, judgement: Judgement, now: datetime
) -> OutboxMessage:
    """Tells ``sub``'s channel (once a day at most) that its filter ran out of time."""
    log.warning(
        "subscription=%s guild=%s feed=%s: filter out of time: %d items timed out (no match), "
        "%d not judged (not posted)",
        sub.id, sub.guild_id, feed_url, judgement.timed_out, judgement.not_judged,
    )  # fmt: skip
    skipped = judgement.timed_out + judgement.not_judged
    url = fit(escape_markdown(feed_url), 300)
    spec = notice_message(
        "Feed filter too slow",
        f"The filter of this channel's subscription to {url} ran out of time on {skipped} new "
        f"item{'s' if skipped != 1 else ''}: an item it cannot judge in time is not posted, and a "
        "pattern that runs out of time counts as not matching. Make its regex simpler with "
        "`/feed filter` (patterns such as `(a|aa)+` take forever on some titles).",
    )
    return OutboxMessage(
        channel_id=sub.channel_id,
        guild_id=sub.guild_id,
        kind="notice",
        dedup_key=f"filter-slow:{sub.id}:{now.date().isoformat()}",
        spec=spec,
    )
