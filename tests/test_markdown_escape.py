"""Feed and page text cannot make links, formatting or pings of its own in any bot message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.content import alert_content
from bot.alerts.types import AlertArticle, AlertStory
from bot.digests.compose import DigestArticle, compose_digest
from bot.digests.render import render_digest
from bot.discord_text import discord_length, escape_markdown
from bot.feeds.posts import feed_item_message, feed_paused_notice
from bot.feeds.results import ImportReport
from bot.feeds.types import Feed
from cogs.article_views import PAGE_CHARS, article_pages, full_text_message, summary_message
from cogs.feed_views import import_report_text
from tests.markdown_view import block_markup, bold_spans, masked_link_targets, pings, shown
from tests.test_text_fit import article, entry

GIFT = "[https://discord.com/gifts/abc](https://evil.example/steal)"
HOSTILE_TITLE = "**Big** news [x](https://evil.example/y) @everyone <@&42>"
START = datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_a_masked_link_in_a_feed_summary_is_shown_not_linked() -> None:
    spec = feed_item_message(
        entry(title=HOSTILE_TITLE, summary=f"Claim your prize: {GIFT}"), Feed(url="https://e.example/f")
    )
    embed = spec.embeds[0]
    assert masked_link_targets(embed.description) == []
    assert shown(embed.description) == f"Claim your prize: {GIFT}"
    assert masked_link_targets(embed.title) == [] and bold_spans(embed.title) == 0
    assert pings(embed.title) == [] and spec.allowed_role_ids == ()
    assert embed.url == "https://e.example/1"  # the bot's own link to the story is kept


def test_a_masked_link_in_a_digest_entry_is_escaped_and_the_bots_links_kept() -> None:
    articles = [
        DigestArticle(
            story_id="s",
            title=f"Prize {GIFT}",
            url=f"https://o{i}.example/story",
            source_name=f"o{i}.example",
            published=START + timedelta(minutes=i),
            summary=f"Claim it here {GIFT} now.",
            display_name=f"Outlet {i} [x](https://evil.example/o)",
        )
        for i in range(3)
    ]
    digest = compose_digest(articles, period_start=START, period_end=START + timedelta(days=1))
    description = render_digest(digest, title=f"Daily {GIFT}")[0][0].description or ""
    targets = masked_link_targets(description)
    assert targets and all(t.startswith("https://o") for t in targets), targets  # only the bot's links
    assert "Claim it here [https://discord.com/gifts/abc](https://evil.example/steal) now." in shown(
        description
    )


def test_a_masked_link_in_an_alert_is_escaped() -> None:
    story = AlertStory(
        story_id="s",
        articles=tuple(
            AlertArticle(
                source=f"o{i}.example",
                published=START,
                title=HOSTILE_TITLE,
                url=f"https://o{i}.example/a",
                summary=f"Claim it here {GIFT} now.",
            )
            for i in range(3)
        ),
    )
    content, embed, allowed = alert_content(
        story, role_id=None, label="Topic: " + escape_markdown("**gift**")
    )
    assert masked_link_targets(content) == [] and pings(content) == [] and allowed == ()
    assert bold_spans(content) == 2  # the bot's own "**Topic: ...:**" only
    assert all(t.startswith("https://o") for t in masked_link_targets(embed.description))
    assert GIFT in shown(embed.description) and masked_link_targets(embed.title) == []


def test_the_paused_notice_escapes_the_feed_title_and_pings_nobody() -> None:
    feed = Feed(url="https://e.example/feed?a=(1)", title=HOSTILE_TITLE)
    spec = feed_paused_notice(feed, "HTTP 410 [Gone](https://evil.example/r)")
    description = spec.embeds[0].description or ""
    assert masked_link_targets(description) == [] and pings(description) == []
    assert bold_spans(description) == 2  # the bot's own bold around the name
    assert f"**{HOSTILE_TITLE}** (https://e.example/feed?a=%281%29)" in shown(description)
    assert "HTTP 410 [Gone](https://evil.example/r)" in shown(description)
    assert "`/feed resume`" in description and spec.allowed_role_ids == ()


def test_fetch_embeds_escape_page_text() -> None:
    page = article(
        title=HOSTILE_TITLE,
        text=f"First paragraph with {GIFT} in it.\n\n# Not a heading\n\n> not a quote",
        summary=f"Summary with {GIFT}.",
        author="Ana *Lopez* @everyone",
        site="City Post",
    )
    summary = summary_message(page)["embed"]
    assert masked_link_targets(summary.description) == [] and GIFT in shown(summary.description)
    assert masked_link_targets(summary.title) == [] and bold_spans(summary.title) == 0
    assert summary.url == "https://e.example/a"
    by = next(f.value for f in summary.fields if f.name == "By")
    assert shown(by) == "Ana *Lopez* @everyone" and pings(by) == []
    text = full_text_message(page, page=0, reader_id=1)["embed"].description
    assert masked_link_targets(text) == [] and text.count("\\#") == 1 and text.count("\\>") == 1
    assert shown(text) == page.text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("[]()<>*_~`|\\#->@!&:/. a1\n"), max_size=200))
def test_escaped_text_renders_nothing_and_shows_everything(text: str) -> None:
    escaped = escape_markdown(text)
    assert masked_link_targets(escaped) == [] and bold_spans(escaped) == 0 and pings(escaped) == []
    assert block_markup(escaped) == []
    assert shown(escaped) == text


def test_a_numbered_line_is_escaped_where_discord_reads_the_escape() -> None:
    """A backslash before a digit is shown, not read as an escape: the full stop is escaped."""
    for text in ("1. Preheat the oven.", "2024. A year of storms", "Steps:\n  12. Mix"):
        escaped = escape_markdown(text)
        assert block_markup(escaped) == [] and shown(escaped) == text, escaped


def test_no_full_text_page_starts_with_markup_of_the_page() -> None:
    """A page can start in the middle of a paragraph, where "# ", "-# ", "- " or "1. " were not
    at a line start (and so not escaped) in the text: it must not become a heading or a list.
    """
    for start in ("# Claim a prize now.", "-# small print.", "- a list item.", "3. an item.", "> a quote."):
        # Sentences up to where the first sentence of ``start`` ("3." is one) no longer fits.
        room = PAGE_CHARS - 1 - len(start.split(". ")[0])
        filler = " ".join(["Something."] * (room // 11)) + " " + "x" * (room % 11) + "."
        page = article(
            title="Report", text=f"{filler} {start} The end of the story.", summary="", author="", site=""
        )
        pages = article_pages(page)
        assert shown(pages[1]).startswith(start), pages[1][:40]
        for text in pages:
            assert block_markup(text) == [], text[:40]
            assert discord_length(text) <= PAGE_CHARS
        assert " ".join(shown(p) for p in pages) == page.text


def test_the_opml_import_report_shows_the_files_titles_as_written() -> None:
    hostile = "[Claim your prize](https://evil.example/steal) @everyone: The site answered 404 Not Found."
    text = import_report_text(ImportReport(added=(), skipped=(), errors=(hostile,)), 10)
    assert masked_link_targets(text) == []
    assert pings(text) == []
    assert "Claim your prize" in shown(text)
