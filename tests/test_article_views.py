"""What /fetch sends stays inside Discord's limits, whatever the article: it is built as a
MessageSpec (bot/render.py) and sent as cogs/publisher.to_embed makes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import discord
import pytest
from discord import app_commands

from bot.render import article_pages, page_spec, summary_spec
from bot.types import Article
from cogs.article_views import MAX_EMBED_PAGES, full_text_message, summary_message
from cogs.cooldowns import MemberCooldowns
from cogs.publisher import to_embed

LONG_TITLE = "Breaking " * 60


def make_article(paragraphs: int, *, title: str = "A headline", words_per_paragraph: int = 80) -> Article:
    text = "\n\n".join(
        " ".join(f"w{p}x{i}" for i in range(words_per_paragraph)) + "." for p in range(paragraphs)
    )
    words = len(text.split())
    return Article(
        url="https://news.example/a?utm_source=x",
        canonical_url="https://news.example/a",
        title=title,
        author="Jane Doe " * 200,
        published=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        site_name="Example News",
        description="desc",
        image_url="https://news.example/lead.jpg",
        language="en",
        text=text,
        word_count=words,
        reading_minutes=max(1, round(words / 230)),
        summary="First sentence. Second sentence. " * 200,
    )


def label(item: discord.ui.Item) -> str | None:
    # Dynamic (restart-proof) buttons wrap the real button.
    return getattr(getattr(item, "item", item), "label", None)


def assert_within_limits(embeds: list[discord.Embed]) -> None:
    assert len(embeds) <= 10
    assert sum(len(e) for e in embeds) <= 6000
    for embed in embeds:
        assert len(embed.title or "") <= 256
        assert len(embed.description or "") <= 4096
        assert len(embed.fields) <= 25
        for field in embed.fields:
            assert len(field.name) <= 256 and len(field.value) <= 1024


def test_summary_embed_has_everything_and_fits() -> None:
    article = make_article(3, title=LONG_TITLE)
    message = summary_message(article)
    embed = message["embed"]
    assert_within_limits([embed])
    assert embed.url == "https://news.example/a"
    assert embed.author.name == "Example News"
    assert embed.image.url == "https://news.example/lead.jpg"
    assert embed.timestamp == article.published
    names = [f.name for f in embed.fields]
    assert names == ["By", "Published", "Reading time"]
    assert embed.description.startswith("First sentence.")
    labels = [label(item) for item in message["view"].children]
    assert "Full text" in labels and "Open article" in labels


@pytest.mark.parametrize("paragraphs", [1, 5, 40])
def test_full_text_pages_fit_and_cover_the_text(paragraphs: int) -> None:
    article = make_article(paragraphs)
    first = full_text_message(article, page=0, reader_id=42)
    if "file" in first:
        pytest.skip("long enough to be a file; covered below")
    seen: list[str] = []
    page = 0
    while True:
        message = full_text_message(article, page=page, reader_id=42)
        assert_within_limits([message["embed"]])
        seen.append(message["embed"].description)
        buttons = {label(i): i for i in message["view"].children}
        nxt = buttons.get("Next")
        if nxt is None or nxt.item.disabled:
            break
        page += 1
    assert " ".join(seen).split() == article.text.split()


def test_very_long_article_becomes_a_markdown_file() -> None:
    article = make_article(MAX_EMBED_PAGES * 15, words_per_paragraph=120)
    message = full_text_message(article, page=0, reader_id=1)
    assert isinstance(message["file"], discord.File)
    assert message["file"].filename.endswith(".md")
    data = message["file"].fp.read().decode()
    assert data.startswith("# A headline") and article.text.split()[-1] in data
    assert_within_limits([message["embed"]])


def test_page_index_is_clamped() -> None:
    article = make_article(20)
    message = full_text_message(article, page=999, reader_id=1)
    assert "Page" in message["embed"].footer.text
    current, total = message["embed"].footer.text.removeprefix("Page ").split(" of ")
    assert current == total


def huge_article() -> Article:
    """Every text past its limit, in astral characters (two UTF-16 units each) and Markdown."""
    emoji = "\U0001f30d"  # an astral character: one code point, two UTF-16 units
    words = " ".join(f"{emoji}*w{i}*" for i in range(4000))
    return replace(
        make_article(1),
        title=f"<@&1> {emoji}" * 500,
        author=f"{emoji} Reporter " * 800,
        site_name=f"@everyone {emoji} " * 400,
        summary=f"# {emoji} {words}",
        text="\n\n".join(words[: len(words) // 12] for _ in range(4)),
        word_count=24_000,
    )


def test_fetch_embeds_are_message_specs_within_discords_limits_for_a_huge_page() -> None:
    article = huge_article()
    summary = summary_spec(article)
    summary.validate()
    assert summary_message(article)["embed"].to_dict() == to_embed(summary.embeds[0]).to_dict()
    assert summary_message(article)["allowed_mentions"].to_dict() == {"parse": []}
    pages = article_pages(article)
    assert 1 < len(pages) <= MAX_EMBED_PAGES
    for index in range(len(pages)):
        spec = page_spec(article, pages, index)
        spec.validate()
        assert spec.embeds[0].length() <= 6000
        sent = full_text_message(article, page=index, reader_id=1)["embed"]
        assert sent.to_dict() == to_embed(spec.embeds[0]).to_dict()
    # Longer still: the summary with the text attached, within the limits too.
    longer = replace(article, text="\n\n".join([article.text] * 4))
    as_file = full_text_message(longer, page=0, reader_id=1)
    assert "file" in as_file
    note = as_file["embed"].footer.text
    summary_spec(longer, footer=note).validate()
    assert as_file["embed"].to_dict() == to_embed(summary_spec(longer, footer=note).embeds[0]).to_dict()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_member_cooldown_allows_rate_uses_per_period_each() -> None:
    clock = FakeClock()
    cooldowns = MemberCooldowns(2, 10.0, clock=clock)
    cooldowns.check(1)
    clock.now += 3
    cooldowns.check(1)
    cooldowns.check(2)  # another member has a bucket of their own

    clock.now += 1
    with pytest.raises(app_commands.CommandOnCooldown) as info:
        cooldowns.check(1)
    assert info.value.retry_after == pytest.approx(6.0)  # 10 s after the first use

    clock.now += 6.01
    cooldowns.check(1)


def test_member_cooldowns_forget_members_who_stopped_clicking() -> None:
    clock = FakeClock()
    cooldowns = MemberCooldowns(1, 10.0, clock=clock)
    for member in range(20_000):
        cooldowns.check(member)
        clock.now += 0.1  # about 100 members inside any 10 s window
    assert len(cooldowns._buckets) <= 2048
    with pytest.raises(app_commands.CommandOnCooldown):
        cooldowns.check(19_999)  # the recent ones are still counted
