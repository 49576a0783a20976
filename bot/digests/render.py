"""A digest as Discord-shaped embeds, split across embeds and messages to fit Discord's limits.

Each entry is a Markdown block::

    **[Headline](url)**
    One or two sentences of summary.
    reported by [A](url), [B](url) and [C](url)

An entry is never split across embeds. One too long on its own (an enormous summary, dozens of
outlets, a 3 kB URL) is shortened step by step: fewer linked outlets, then a shorter summary, then
plain names, then no links at all, until it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot.delivery.message import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    EmbedSpec,
)
from bot.digests.compose import Digest, DigestEntry
from bot.digests.text import join_names
from bot.discord_text import discord_length, escape_markdown, fit, link

__all__ = ["render_digest", "render_entry"]

_SEPARATOR = "\n\n"
#: Outlets named in full before "and N more"; when shortening, only this many.
MAX_NAMED_SOURCES = 5
SHORT_NAMED_SOURCES = 3
#: A summary cut shorter than this says nothing: drop it instead.
MIN_SUMMARY_CHARS = 40


def render_digest(
    digest: Digest,
    *,
    title: str,
    description_limit: int = DESCRIPTION_LIMIT,
    embed_total_limit: int = EMBED_TOTAL_LIMIT,
    embeds_per_message: int = EMBEDS_PER_MESSAGE,
    tz: tzinfo = UTC,
) -> list[list[EmbedSpec]]:
    """The messages to send, each a list of embeds, in order.

    Every embed has at most ``description_limit`` characters of description, and the embeds of a
    message at most ``embed_total_limit`` characters together (Discord's 6000 counts all of them).
    The first embed of each message carries the title; the last embed of the last message has
    the footer and timestamp. Dates in the text are shown in ``tz``.
    """
    if description_limit < 200 or embed_total_limit < 400 or embeds_per_message < 1:
        raise ValueError("limits too small to render a digest")
    head = fit(escape_markdown(title.strip()) or "Digest", TITLE_LIMIT)
    continued = fit(f"{head} (continued)", TITLE_LIMIT)
    since = _when(digest.period_start, tz)
    if not digest.entries:
        text = f"No new stories since {since}."
        return [[EmbedSpec(title=head, description=text, timestamp=digest.period_end)]]

    footer = fit(_footer(digest, since), FOOTER_LIMIT)
    # Conservative: every message keeps room for the longest title and the footer.
    reserve = max(discord_length(head), discord_length(continued)) + discord_length(footer)
    budget = min(description_limit, embed_total_limit - reserve)
    blocks = [render_entry(entry, budget) for entry in digest.entries]
    limits = _Limits(description_limit, embed_total_limit, embeds_per_message, reserve)
    messages = _pack(blocks, head, continued, limits)
    last = messages[-1][-1]
    messages[-1][-1] = EmbedSpec(
        title=last.title, description=last.description, footer_text=footer, timestamp=digest.period_end
    )
    return messages


@dataclass(frozen=True, slots=True)
class _Limits:
    description: int
    embed_total: int
    embeds_per_message: int
    #: Room each message keeps for the longest title and the footer.
    reserve: int


def _pack(blocks: list[str], head: str, continued: str, limits: _Limits) -> list[list[EmbedSpec]]:
    """Entry blocks into embeds (as many blocks per embed as fit) and embeds into messages."""
    messages: list[list[EmbedSpec]] = []
    done: list[EmbedSpec] = []  # closed embeds of the current message
    parts: list[str] = []  # blocks of the open embed

    def open_title() -> str | None:
        if done:
            return None
        return head if not messages else continued

    def close_embed() -> None:
        done.append(EmbedSpec(title=open_title(), description=_SEPARATOR.join(parts)))
        parts.clear()

    for block in blocks:
        if parts:
            description = _SEPARATOR.join([*parts, block])
            used = sum(e.length() for e in done) + discord_length(open_title()) + discord_length(description)
            if (
                discord_length(description) <= limits.description
                and used + limits.reserve <= limits.embed_total
            ):
                parts.append(block)
                continue
            close_embed()
        used = sum(e.length() for e in done) + discord_length(block)
        if done and (len(done) >= limits.embeds_per_message or used + limits.reserve > limits.embed_total):
            messages.append(done)
            done = []
        parts.append(block)
    close_embed()
    messages.append(done)
    return messages


def render_entry(entry: DigestEntry, budget: int) -> str:
    """One entry's Markdown block, shortened until it fits ``budget`` characters."""
    sources = entry.sources
    attempts = (
        # (outlets named, link outlets, link headline, may shorten summary)
        (MAX_NAMED_SOURCES, True, True, False),
        (SHORT_NAMED_SOURCES, True, True, False),
        (SHORT_NAMED_SOURCES, True, True, True),
        (SHORT_NAMED_SOURCES, False, True, True),
        (SHORT_NAMED_SOURCES, False, False, True),
    )
    for named, link_sources, link_headline, shorten in attempts:
        headline = link(entry.headline, entry.url) if link_headline else escape_markdown(entry.headline)
        shown = sources[: named + 1]
        names = [link(s.name, s.url) if link_sources else escape_markdown(s.name) for s in shown]
        lines = [f"**{headline}**"]
        byline = f"reported by {join_names(names, max_named=named, total=len(sources))}" if names else ""
        summary = escape_markdown(entry.summary)
        if shorten and summary:
            room = budget - discord_length("\n".join([*lines, byline])) - 1
            summary = fit(summary, room) if room >= MIN_SUMMARY_CHARS else ""
        text = "\n".join(line for line in [*lines, summary, byline] if line)
        if discord_length(text) <= budget:
            return text
    # A headline or outlet names too long even alone: plain text, cut.
    plain = escape_markdown(entry.headline)
    plain_names = [escape_markdown(s.name) for s in sources[: SHORT_NAMED_SOURCES + 1]]
    byline = join_names(plain_names, max_named=SHORT_NAMED_SOURCES, total=len(sources))
    return fit(f"{plain}\nreported by {byline}" if byline else plain, budget)


def _footer(digest: Digest, since: str) -> str:
    count = len(digest.entries)
    stories = "story" if digest.total_stories == 1 else "stories"
    if digest.omitted:
        return f"Top {count} of {digest.total_stories} {stories} since {since}"
    return f"{count} {stories} since {since}"


def _when(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%d %b %Y %H:%M} {local.tzname() or ''}".strip()
