"""Fitting text to Discord's limits, measured as Discord's limits are checked (UTF-16 units).

The payloads built for feed posts, notices, digests, alerts and /fetch embeds are checked with
the emulator's own validation (``tests/emulator/limits.py``), made to count UTF-16 units.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.content import alert_content
from bot.alerts.types import AlertArticle, AlertStory
from bot.delivery.message import EmbedSpec, FieldSpec, MessageSpec
from bot.digests.compose import DigestArticle, compose_digest
from bot.digests.render import render_digest
from bot.discord_text import discord_length, fit, prefix_end
from bot.feeds.posts import feed_item_message, feed_paused_notice
from bot.feeds.types import Feed, FeedEntry
from bot.types import Article
from cogs.article_views import full_text_message, summary_message
from cogs.publisher import to_embed
from tests.emulator.limits import validate_message

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme cluster, 11 UTF-16 units
FLAG = "🇺🇦"
ACCENTED = "e\u0301"  # e + combining acute
START = datetime(2026, 12, 1, 8, tzinfo=UTC)

# Text of the kinds that break naive cuts: astral emoji, ZWJ sequences, flags, combining marks,
# CJK, right-to-left, Markdown and mention syntax, long words and plenty of spaces.
_PIECES = (
    *(
        FAMILY,
        FLAG,
        ACCENTED,
        "🙂",
        "𝔘𝔫𝔦",
        "漢字",
        "שלום",
        "\u200d",
        "\u0301",
        "\ufe0f",
        "**",
        "_",
        "`",
        "\\",
    ),
    *("[x](https://e.example)", "@everyone", "<@&1>", "> ", "# ", " ", " ", "\n", "word", "a" * 300),
)
_pieces = st.sampled_from(_PIECES)
#: Every limit text is fitted to (UTF-16 units): choice names, titles, fields, summaries, notices,
#: pages, descriptions, the 6000 of a message.
LIMITS = (100, 120, 150, 200, 256, 300, 1000, 1024, 1500, 2000, 2048, 3800, 4096, 6000)


def _across(pattern: list[str], limit: int, delta: int) -> str:
    """``pattern`` repeated until it just passes ``limit + delta`` UTF-16 units, so a cut falls
    among emoji, joiners and combining marks at every limit (random text rarely gets that long).
    """
    unit = "".join(pattern) or "🙂"
    return unit * ((limit + delta) // max(1, discord_length(unit)) + 1)


hostile_text = st.one_of(
    st.lists(_pieces, max_size=400).map("".join),
    st.text(max_size=3000),
    st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=3000),
    st.builds(
        _across, st.lists(_pieces, min_size=1, max_size=6), st.sampled_from(LIMITS), st.integers(-3, 3)
    ),
)


def in_utf16_units(value: Any) -> Any:
    """``value`` with every astral character written as two, so ``len()`` counts UTF-16 units."""
    if isinstance(value, str):
        return "".join(c if ord(c) <= 0xFFFF else "\ufffd\ufffd" for c in value)
    if isinstance(value, dict):
        return {k: in_utf16_units(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_utf16_units(v) for v in value]
    return value


def discord_errors(spec: MessageSpec) -> dict[str, Any]:
    """What the emulator (Discord's limits) says of the payload the publisher sends for ``spec``,
    counted in code points as Discord does and in UTF-16 units as the bot measures.
    """
    spec.validate()
    payload = {"content": spec.content, "embeds": [to_embed(e).to_dict() for e in spec.embeds]}
    return validate_message(payload) or validate_message(in_utf16_units(payload))


def clusters(text: str) -> list[str]:
    return regex.findall(r"\X", text)


# --- the one fitting helper ---------------------------------------------------------------------


def test_fit_counts_utf16_units_and_the_ellipsis() -> None:
    assert fit("short", 10) == "short"
    assert fit("🙂" * 5, 10) == "🙂" * 5  # exactly 10 units
    cut = fit("🙂" * 6, 10)
    assert cut == "🙂" * 4 + "…" and discord_length(cut) == 9
    assert fit("the quick brown fox jumps over", 16) == "the quick brown…"
    assert fit("anything", 0) == ""


def test_fit_never_splits_a_grapheme_cluster() -> None:
    for unit in (FAMILY, FLAG, ACCENTED, "🙂"):
        text = unit * 100
        for limit in range(1, 60):
            cut = fit(text, limit)
            assert discord_length(cut) <= limit
            head = cut.removesuffix("…")
            if discord_length(unit) < limit:
                assert set(clusters(head)) <= {unit}, (unit, limit, cut)
            else:  # a cluster longer than the limit: cut by code points, never after a joiner
                assert unit.startswith(head) and not head.endswith("\u200d"), (unit, limit, cut)


def test_fit_cuts_at_a_word_boundary_when_one_is_near() -> None:
    assert fit("Storm hits the coast, thousands without power", 30) == "Storm hits the coast…"
    # One enormous word is cut where it is rather than dropped.
    assert fit("https://example.com/" + "a" * 100, 30) == "https://example.com/aaaaaaaaa…"


def test_fit_never_leaves_an_escaping_backslash_before_the_ellipsis() -> None:
    for limit in range(2, 20):
        cut = fit("\\*" * 20, limit)
        head = cut.removesuffix("…")
        assert (len(head) - len(head.rstrip("\\"))) % 2 == 0, cut


def test_a_cluster_longer_than_the_limit_is_cut_by_code_points() -> None:
    zalgo = "Z" + "\u0301" * 500 + " rest"
    cut = fit(zalgo, 100)
    assert discord_length(cut) <= 100 and cut.startswith("Z\u0301")
    assert prefix_end("\U0001f642" * 3, 3) == 1


def test_lone_surrogates_are_measured_not_fatal() -> None:
    assert discord_length("\ud83d") == 1
    assert discord_length(fit("\ud83d" * 300, 256)) <= 256


@settings(max_examples=300, deadline=None)
@given(text=hostile_text, limit=st.integers(min_value=0, max_value=4100))
def test_fit_property(text: str, limit: int) -> None:
    cut = fit(text, limit)
    assert discord_length(cut) <= limit
    if discord_length(text) <= limit:
        assert cut == text
    else:
        head = cut.removesuffix("…")
        assert cut.endswith("…") or cut == ""
        assert text.startswith(head)
        # The cut falls between grapheme clusters (unless one cluster is longer than the limit).
        whole = clusters(text)
        if whole and discord_length(whole[0]) < limit:
            assert clusters(head) == whole[: len(clusters(head))]


# --- the message build fits every limit ----------------------------------------------------------


def test_a_spec_is_fitted_to_every_limit_when_built() -> None:
    huge = "🙂" * 5000
    embed = EmbedSpec(
        title=huge,
        description=huge,
        author_name=huge,
        footer_text=huge,
        fields=(FieldSpec(huge, huge), FieldSpec("", "")),
    )
    spec = MessageSpec(content=huge, embeds=(embed, embed, embed))
    assert discord_errors(spec) == {}
    assert discord_length(spec.content) <= 2000
    assert sum(e.length() for e in spec.embeds) <= 6000
    # Cut evenly: no embed loses its description for the others.
    assert all(discord_length(e.description) > 400 for e in spec.embeds)
    # Read back from the outbox, still within the limits.
    assert MessageSpec.from_dict(spec.to_dict()) == spec


def test_a_title_near_256_characters_with_emoji_is_posted_not_dropped() -> None:
    # 250 code points, 300 UTF-16 units: cut by code points to 256, it failed validation and the
    # post was given up as failed.
    title = "Breaking 🚨 " + "🔥 live updates from the summit " * 7 + "🙂" * 27
    assert len(title) <= 256 < discord_length(title)
    spec = feed_item_message(entry(title=title), Feed(url="https://e.example/feed"))
    assert discord_errors(spec) == {}
    shown = spec.embeds[0].title or ""
    assert shown.startswith("Breaking 🚨 🔥 live updates") and shown.endswith("…")
    assert discord_length(shown) <= 256


# --- every kind of post, from arbitrary items --------------------------------------------------


def entry(
    title: str | None = "A title", summary: str | None = "A summary.", author: str | None = None
) -> FeedEntry:
    return FeedEntry(
        guid="1",
        link="https://e.example/1",
        title=title,
        summary=summary,
        content_html=None,
        author=author,
        published=START,
        updated=START,
        categories=(),
        image_url=None,
        enclosure_url=None,
    )


def article(title: str, text: str, summary: str, author: str, site: str) -> Article:
    return Article(
        url="https://e.example/a",
        canonical_url="https://e.example/a",
        title=title,
        author=author,
        published=START,
        site_name=site,
        description=summary,
        image_url=None,
        language="en",
        text=text,
        word_count=len(text.split()),
        reading_minutes=1,
        summary=summary,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=hostile_text, summary=hostile_text, author=hostile_text, feed_title=hostile_text)
def test_feed_posts_and_notices_are_always_accepted(
    title: str, summary: str, author: str, feed_title: str
) -> None:
    feed = Feed(url="https://e.example/feed", title=feed_title, site_url="https://e.example/")
    for extracted in (None, article(title, summary, summary, author, feed_title)):
        spec = feed_item_message(entry(title, summary, author), feed, article=extracted)
        assert discord_errors(spec) == {}
        assert spec.embeds[0].title  # never an empty post
    assert discord_errors(feed_paused_notice(feed, summary)) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.tuples(hostile_text, hostile_text, hostile_text), min_size=1, max_size=25),
    title=hostile_text,
)
def test_digests_and_alerts_are_always_accepted(items: list[tuple[str, str, str]], title: str) -> None:
    articles = [
        DigestArticle(
            story_id=f"s{i % 7}",
            title=headline,
            url=f"https://o{i}.example/{i}",
            source_name=f"o{i}.example",
            published=START + timedelta(minutes=i),
            summary=summary,
            display_name=outlet,
        )
        for i, (headline, summary, outlet) in enumerate(items)
    ]
    digest = compose_digest(articles, period_start=START, period_end=START + timedelta(days=1))
    messages = render_digest(digest, title=title)
    shown = sum(discord_length(e.description) for m in messages for e in m)
    for embeds in messages:
        assert discord_errors(MessageSpec(embeds=tuple(embeds))) == {}
    assert shown > 0  # nothing dropped: every entry is in some embed
    story = AlertStory(
        story_id="s0",
        articles=tuple(
            AlertArticle(
                source=a.source_name, published=a.published, title=a.title, url=a.url, summary=a.summary
            )
            for a in articles
        ),
    )
    for role_id in (None, 123):
        content, embed, allowed = alert_content(story, role_id=role_id, label=f"Topic: {title[:300]}")
        assert discord_errors(MessageSpec(content, (embed,), allowed)) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=hostile_text, text=hostile_text, summary=hostile_text, author=hostile_text, site=hostile_text)
def test_fetch_embeds_are_always_accepted(
    title: str, text: str, summary: str, author: str, site: str
) -> None:
    page = article(title, text + "\n\n" + text * 3, summary, author, site)
    messages = [summary_message(page)["embed"]]
    for number in range(3):
        messages.append(full_text_message(page, page=number, reader_id=1)["embed"])
    for embed in messages:
        payload = {"embeds": [embed.to_dict()]}
        assert validate_message(payload) == {} and validate_message(in_utf16_units(payload)) == {}


def test_a_blank_author_adds_no_empty_field_to_fetch_embeds() -> None:
    # Found by the property below: an author of " " made a "By" field Discord refuses.
    page = article("Title", "Some text. More text.", "A summary.", " ", "Site")
    payload = {"embeds": [summary_message(page)["embed"].to_dict()]}
    assert validate_message(payload) == {}
