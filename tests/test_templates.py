"""Post templates (issue 13, point 1): the syntax, the renderer, the presets, storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.delivery.message import CONTENT_LIMIT, TITLE_LIMIT, MessageSpec
from bot.discord_text import discord_length
from bot.feeds.outputs import effective_template, post
from bot.feeds.posts import feed_item_message, ready_to_post
from bot.feeds.types import Feed, FeedEntry
from bot.storage import Database, GuildSettingsStore
from bot.storage.feed_records import FeedState, ItemRow, NewFeed, Subscribed, SubscriptionRecord
from bot.storage.feeds import FeedStore
from bot.templates import PLACEHOLDERS, PRESETS, Template, TemplateError, make_template, parse, render_post
from bot.templates.presets import full_message
from bot.templates.syntax import Slot
from bot.types import Article

WHEN = datetime(2026, 5, 4, 12, 30, tzinfo=UTC)
FEED = Feed(url="https://news.example/feed", title="News", site_url="https://news.example/",
            icon_url="https://news.example/icon.png")  # fmt: skip


def entry(**values: Any) -> FeedEntry:
    base: dict[str, Any] = dict(
        guid="g", link="https://news.example/a", title="A title", summary="A summary.",
        content_html=None, author="Ann", published=WHEN, updated=WHEN, categories=("World", "EU"),
        image_url="https://news.example/a.jpg", enclosure_url=None,
    )  # fmt: skip
    return FeedEntry(**(base | values))


def article(**values: Any) -> Article:
    base: dict[str, Any] = dict(
        url="https://news.example/a", canonical_url=None, title="A title", author="Bea", published=None,
        site_name="News", description="Page description", image_url="https://news.example/lead.jpg",
        language="en", text="Para one.\n\nPara two.", word_count=600, reading_minutes=3,
        summary="Article summary.",
    )  # fmt: skip
    return Article(**(base | values))


def render(
    entry_: FeedEntry | None = None, feed: Feed = FEED, article_: Article | None = None, **t: str
) -> MessageSpec:
    preset = t.pop("preset", "full")
    return render_post(make_template(preset, dict(t)), entry_ or entry(), feed, article_)


# --- syntax -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
def test_every_placeholder_parses(name: str) -> None:
    assert parse(f"a {{{name}}} b") == ("a ", Slot(name), " b")


def test_doubled_braces_are_literal_braces() -> None:
    assert parse("{{title}} {title}}}") == ("{title} ", Slot("title"), "}")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{titel}", "unknown placeholder `{titel}`"),
        ("{}", "unknown placeholder `{(empty)}`"),
        ("{title", "never closed"),
        ("a { {title}", "never closed"),
        ("title}", "without an opening"),
        ("{__class__}", "unknown placeholder `{__class__}`"),
        ("{title.__class__}", "unknown placeholder"),
    ],
)
def test_bad_templates_are_refused_naming_the_problem(text: str, needle: str) -> None:
    with pytest.raises(TemplateError) as caught:
        make_template("full", {"title": text})
    assert needle in caught.value.message
    assert "title" in caught.value.message


def test_bad_preset_colour_url_and_length_are_refused() -> None:
    with pytest.raises(TemplateError, match="preset"):
        make_template("fancy", {})
    with pytest.raises(TemplateError, match="#RRGGBB"):
        make_template("full", {"color": "blue"})
    with pytest.raises(TemplateError, match="http"):
        make_template("full", {"image": "javascript:alert(1)"})
    with pytest.raises(TemplateError, match="256"):
        make_template("full", {"title": "x" * 300})
    assert make_template("full", {"color": "3b82f6"}).color == "#3B82F6"


def test_template_json_round_trip_and_unreadable_json() -> None:
    template = make_template("compact", {"content": "{title}", "color": "#112233"})
    assert Template.from_json(template.to_json()) == template
    assert Template.from_json(None) is None
    assert Template.from_json({"preset": "gone"}) is None
    assert Template.from_json({"preset": "full", "title": "{nope}"}) is None


# --- renderer -----------------------------------------------------------------------


@pytest.mark.parametrize("with_article", [False, True])
def test_default_is_todays_post_byte_for_byte(with_article: bool) -> None:
    item, art = entry(), (article() if with_article else None)
    expected = full_message(item, FEED, art)
    assert feed_item_message(item, FEED, article=art) == expected
    assert render_post(Template(), item, FEED, art).to_dict() == expected.to_dict()
    assert render_post(None, item, FEED, art) == expected


def test_every_placeholder_renders() -> None:
    text = " | ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    spec = render(article_=article(), preset="headline", description=text)
    assert spec.embeds[0].description == (
        "A title | https://news.example/a | Article summary. | Ann | <t:1777897800:f> | News | News | "
        "World, EU | https://news.example/a.jpg | Para one.\n\nPara two. | 3 min"
    )


def test_published_is_a_discord_timestamp_and_empty_when_unknown() -> None:
    assert render(content="at {published}").content == f"at <t:{int(WHEN.timestamp())}:f>"
    assert render(entry(published=None), content="at {published}.").content == "at ."


def test_extraction_placeholders_are_empty_without_an_article() -> None:
    spec = render(preset="compact", content="{title} {article_text}{reading_time}")
    assert spec.content == "A title"


def test_parts_override_the_preset_and_colour_applies() -> None:
    spec = render(title="{source}: {title}", footer="by {author}", color="#112233")
    (embed,) = spec.embeds
    base = full_message(entry(), FEED).embeds[0]
    assert (embed.title, embed.footer_text, embed.colour) == ("News: A title", "by Ann", 0x112233)
    assert (embed.description, embed.image_url, embed.author_name) == (
        base.description, base.image_url, base.author_name
    )  # fmt: skip


def test_presets() -> None:
    compact = render(preset="compact")
    assert (compact.content, compact.embeds) == ("**A title** · https://news.example/a", ())
    (headline,) = render(preset="headline").embeds
    assert (headline.title, headline.url, headline.description, headline.image_url) == (
        "A title", "https://news.example/a", None, None
    )  # fmt: skip
    (card,) = render(preset="image").embeds
    assert (card.title, card.image_url, card.footer_text) == ("A title", "https://news.example/a.jpg", "Ann")
    for preset in PRESETS:
        render(preset=preset).validate()


def test_a_title_links_to_the_item_unless_the_url_part_says_where() -> None:
    (own,) = render(preset="compact", title="{title}").embeds
    assert (own.title, own.url) == ("A title", "https://news.example/a")
    (elsewhere,) = render(preset="image", url="{image}").embeds
    assert elsewhere.url == "https://news.example/a.jpg"
    (fixed,) = render(title="{source}", url="https://news.example/front").embeds
    assert (fixed.title, fixed.url) == ("News", "https://news.example/front")
    # A url part that is no address (an item without a link) leaves the title unlinked.
    (bare,) = render(entry(link=None), preset="headline").embeds
    assert (bare.title, bare.url) == ("A title", None)


def test_compact_with_no_title_shows_no_empty_bold() -> None:
    assert render(entry(title=None), preset="compact").content == "https://news.example/a"
    assert render(entry(title=""), preset="compact").content == "https://news.example/a"
    assert render(entry(link=None), preset="compact").content == "**A title**"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("__{author}__ ~~{author}~~ *{author}* ||{author}|| `{author}` x", "x"),
        ("***{author}*** | {title}", "A title"),
        ("{title} — **{author}**", "A title"),
        ("**by {author}**", "**by **"),  # more than the placeholder inside: kept
        ("{title}**{author}**{title}", "A titleA title"),
    ],
)
def test_markers_around_an_empty_placeholder_go(content: str, expected: str) -> None:
    assert render(entry(author=None), preset="compact", content=content).content == expected


def test_a_values_own_escapes_are_never_taken_for_markers() -> None:
    # The title's escaped "*" is followed by the manager's "*{author}*": only those two go.
    spec = render(entry(title="*", author=None), preset="compact", content="{title}*{author}*")
    assert spec.content == "\\*"
    spec = render(entry(title="*"), preset="compact", content="**{title}**")
    assert spec.content == "**\\***"


def test_untrusted_values_are_escaped_and_never_ping() -> None:
    evil = entry(
        title="**bold** [x](https://evil.example) @everyone <@123> <@&9>",
        author="@here <@!5>",
        link="https://news.example/a_b",
    )
    spec = render(evil, preset="compact", content="{title}", title="{title}", footer="{author}")
    assert spec.content is not None and spec.embeds
    for text in (spec.content, spec.embeds[0].title):
        assert text is not None
        assert "\\*\\*bold\\*\\*" in text and "\\[x\\]\\(" in text
        assert "@everyone" not in text and "<@123>" not in text and "<@&9>" not in text
    assert spec.embeds[0].footer_text == "@\u200bhere <@!\u200b5>"
    assert spec.allowed_role_ids == ()


def test_manager_markdown_stays_and_bad_urls_are_left_out() -> None:
    spec = render(entry(link="javascript:alert(1)", image_url=None), preset="headline",
                  description="**Read:** {link}", thumbnail="{image}")  # fmt: skip
    (embed,) = spec.embeds
    assert (embed.description, embed.url, embed.thumbnail_url) == ("**Read:**", None, None)


def test_overflow_is_cut_never_dropped() -> None:
    huge = entry(title="word " * 5000, summary="long " * 5000)
    spec = render(huge, preset="compact", content="{title} {summary} {title}", title="{title}{title}")
    spec.validate()
    assert spec.content is not None and discord_length(spec.content) <= CONTENT_LIMIT
    assert spec.content.endswith("…") and spec.content.startswith("word word")
    assert spec.embeds[0].title is not None and discord_length(spec.embeds[0].title) <= TITLE_LIMIT


def test_an_empty_render_falls_back_to_title_and_link() -> None:
    spec = render(entry(author=None), preset="compact", content="{author}")
    assert spec.content == "A title https://news.example/a"
    bare = render(entry(author=None, title=None, link=None), preset="compact", content="{author}")
    assert bare.content == "(untitled)"


def test_rendering_is_bounded_in_time() -> None:
    # Not a timing assert: one render of the worst template on the largest item finishes,
    # with output bounded by the limits (the bench measures the cost).
    text = "{summary}" * 200
    spec = render(entry(summary="x" * 100_000, title="t" * 100_000), description=text[:1990])
    spec.validate()
    assert discord_length(spec.embeds[0].description) <= 4096


# --- the property: nothing yields a payload Discord refuses or a dropped post -----------

_ALPHABET = st.sampled_from(
    [*(f"{{{p}}}" for p in PLACEHOLDERS), "{{", "}}", " ", "\n", "**", "x", "é", "👍🏽", "@everyone"]
)
_TEXT = st.lists(_ALPHABET, max_size=30).map("".join)
_VALUE = st.one_of(st.none(), st.text(max_size=300), st.text(max_size=5).map(lambda s: s * 900))
_URL = st.one_of(
    st.none(),
    st.just("https://n.example/x"),
    st.text(max_size=30),
    st.just("https://n.example/" + "a" * 2100),
)


@st.composite
def templates(draw: st.DrawFn) -> Template:
    preset = draw(st.sampled_from(PRESETS))
    part_names = ["content", "title", "description", "url", "thumbnail", "image", "author", "footer", "color"]
    names = draw(st.lists(st.sampled_from(part_names), unique=True, max_size=9))
    parts: dict[str, str | None] = {}
    for name in names:
        if name == "color":
            parts[name] = draw(st.sampled_from(["#000000", "#FFFFFF", "0x3b82f6"]))
        elif name in ("url", "thumbnail", "image"):
            parts[name] = draw(
                st.sampled_from(["{link}", "{image}", "https://x.example/{title}", "{summary}"])
            )
        else:
            parts[name] = draw(_TEXT)
    try:
        return make_template(preset, parts)
    except TemplateError:
        return Template(preset=preset)


_HTML_PIECES = st.sampled_from(
    ["<p>", "</p>", "<a href='https://n.example/a'>", "<a href='javascript:x'>", "</a>", "<ul><li>",
     "<blockquote>", "<img src='/i.jpg'>", "<b>", "**", "[x](https://e.example)", "@everyone", "<@&1>",
     "https://n.example/b", "word ", "é👍🏽", "\n\n", "<br>", "#", "> ", "- ", "`", "\\", "a" * 300]
)  # fmt: skip
_HTML = st.one_of(st.none(), st.lists(_HTML_PIECES, max_size=40).map(lambda p: "<p>" + "".join(p)))


@st.composite
def entries(draw: st.DrawFn) -> FeedEntry:
    parsed = FeedEntry(
        guid=None, link=draw(_URL), title=draw(_VALUE), summary=draw(_VALUE), content_html=None,
        author=draw(_VALUE), published=draw(st.one_of(st.none(), st.just(WHEN))), updated=None,
        categories=tuple(draw(st.lists(st.text(max_size=50), max_size=5))), image_url=draw(_URL),
        enclosure_url=None, summary_html=draw(_HTML),
    )  # fmt: skip
    # As the pipeline posts it: the summary HTML as Markdown.
    return ready_to_post(parsed, "https://n.example/f")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=templates(), item=entries(), title=_VALUE, with_article=st.booleans())
def test_no_template_and_no_item_makes_a_refused_or_empty_post(
    template: Template, item: FeedEntry, title: str | None, with_article: bool
) -> None:
    art = article(text="y " * 3000, summary="") if with_article else None
    spec = render_post(template, item, Feed(url="https://n.example/f", title=title), art)
    spec.validate()
    assert spec.content or spec.embeds
    for embed in spec.embeds:  # Discord refuses an embed that shows nothing
        assert embed.title or embed.description or embed.author_name or embed.footer_text or embed.image_url \
            or embed.thumbnail_url  # fmt: skip
    assert spec.allowed_role_ids == ()
    # What the outbox stores reads back the same.
    assert MessageSpec.from_dict(spec.to_dict()) == spec


# --- choosing the template, storage ----------------------------------------------------


def sub(template: Any = None, server_template: Any = None) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=1, feed_id=1, guild_id=1, channel_id=2, created_by=None, created_at=WHEN, include=(),
        exclude=(), extract=False, status="active", paused_reason=None, template=template,
        server_template=server_template,
    )  # fmt: skip


def test_subscription_template_wins_then_server_default_then_full() -> None:
    own, server = {"preset": "compact"}, {"preset": "headline"}
    assert effective_template(sub(own, server)) == Template(preset="compact")
    assert effective_template(sub(None, server)) == Template(preset="headline")
    assert effective_template(sub()) is None
    assert post(sub(None, server), entry(), FEED, None).spec == render(preset="headline")
    assert post(sub(), entry(), FEED, None).spec == full_message(entry(), FEED)


NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _new_feed(url: str) -> NewFeed:
    state = FeedState(title="Feed", site_url=None, icon_url=None, etag=None, last_modified=None,
                      body_hash="h", update_hint_s=None, next_check_at=NOW)  # fmt: skip
    items = tuple(
        ItemRow(
            entry_key=f"k{n}",
            link_key=None,
            title=f"Item {n}",
            url=f"https://f.example/{n}",
            summary=None,
            image_url=None,
            author=None,
            published_at=NOW - timedelta(hours=n),
        )
        for n in (2, 0, 1)
    )
    return NewFeed(url, state, items)


async def test_templates_are_stored_read_with_subscriptions_and_cleared(db: Database) -> None:
    store, guilds = FeedStore(db), GuildSettingsStore(db)
    await guilds.set_post_template(1, {"preset": "headline"}, now=NOW)
    (added,) = await store.subscribe(
        [_new_feed("https://f.example/feed")], guild_id=1, channel_id=10, created_by=None, now=NOW,
        messages_for=lambda f, s: [],
    )  # fmt: skip
    assert isinstance(added, Subscribed)
    made = added.subscription
    assert (made.template, made.server_template) == (None, {"preset": "headline"})
    compact = make_template("compact", {"content": "{title} {{x}}"}).to_json()
    assert await store.set_template(1, made.id, compact)
    assert not await store.set_template(2, made.id, compact)  # another server's: not found
    (active,) = (await store.active_subscriptions([made.feed_id]))[made.feed_id]
    assert (active.template, active.server_template) == (compact, {"preset": "headline"})
    status = await store.get_subscription(1, made.id)  # what /feed test and previews build from
    assert status is not None and status.subscription.server_template == {"preset": "headline"}
    assert Template.from_json(active.template) == make_template("compact", {"content": "{title} {{x}}"})
    newest = await store.newest_item(made.feed_id)
    assert newest is not None and newest.title == "Item 0"
    assert await store.set_template(1, made.id, None)
    await guilds.set_post_template(1, None, now=NOW)
    (active,) = (await store.active_subscriptions([made.feed_id]))[made.feed_id]
    assert (active.template, active.server_template) == (None, None)
    assert await guilds.post_template(1) is None
    await guilds.set_manager_role(1, 77, now=NOW)  # the other setting is kept apart
    await guilds.set_post_template(1, {"preset": "image"}, now=NOW)
    assert (await guilds.manager_role(1), await guilds.post_template(1)) == (77, {"preset": "image"})
