"""The digest's headline (most informative title, outlet suffix removed) and summary (the best
source's extraction when one is cached): the rules one by one, then on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.compose import DigestArticle, compose_digest, summary_candidates
from bot.digests.headline import (
    display_title,
    headline_scores,
    is_clickbait,
    is_ticker,
    pick_headline,
    title_centrality,
)
from bot.digests.render import render_digest
from bot.digests.service import DigestService
from bot.storage import Database
from bot.storage.article_cache import ArticleCache
from bot.storage.digests import DigestStore
from bot.storage.stories import StoryStore
from bot.types import Article
from bot.urls import canonicalize_url
from tests.test_digest_service import CHANNEL, GUILD, digest_service, digests_of, group, text_of
from tests.test_story_service import QUAKE, FakeClock, NewItem, add_feed, add_items, subscribe

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
STORY = [
    "Chrysler recalls 25,000 Jeep Grand Cherokee SUVs over brake fault",
    "Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
    "Chrysler recalls Jeep SUVs",
    "Jeep Grand Cherokee recall: Chrysler calls back SUVs for brake fault",
]


def with_extra(extra: str) -> list[str]:
    return [*STORY[:2], extra, STORY[3]]


# --- tickers, clickbait, caps -----------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "LIVE: Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
        "Live updates: Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
        "WATCH: Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
        "VIDEO: Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
        "UPDATE 2-Chrysler recalls Jeep Grand Cherokee SUVs over brakes",
        "US STOCKS-Wall St dips at open after record, China data",
        "Chrysler recalls Jeep Grand Cherokee SUVs over brakes [WATCH LIVE]",
        "Chrysler recalls Jeep Grand Cherokee SUVs over brakes (VIDEO)",
        "Live at 12PM ET: Chrysler recalls Jeep Grand Cherokee SUVs",
    ],
)
def test_tickers_are_recognised_and_lose_to_the_plain_title(title: str) -> None:
    assert is_ticker(title)
    titles = with_extra(title)
    assert pick_headline(titles) != 2


@pytest.mark.parametrize(
    "title",
    [
        "Metro-North worker struck and killed by train",
        "NSA-backed spying program under review",
        "Stocks rise as US-China talks resume",
        "Olivia, live in concert, thrills Dublin",
    ],
)
def test_hyphens_and_the_word_live_alone_are_not_tickers(title: str) -> None:
    assert not is_ticker(title)


@pytest.mark.parametrize(
    "title",
    [
        "You won't believe what Chrysler recalled today",
        "This is why Chrysler recalls Jeep Grand Cherokee SUVs",
        "Here's what the Jeep Grand Cherokee recall means",
        "Is your Jeep Grand Cherokee one of the recalled SUVs?",
        "The 10 best SUVs Chrysler did not recall",
    ],
)
def test_clickbait_is_recognised_and_loses_to_the_plain_title(title: str) -> None:
    assert is_clickbait(title)
    assert pick_headline(with_extra(title)) != 2


def test_a_count_of_millions_is_not_a_listicle() -> None:
    assert not is_clickbait("Projection: 40 Million People Worldwide Will Watch One Program")
    assert is_clickbait("SXSW 2014: 10 Must-Hear Bands at the festival")


def test_a_question_after_a_statement_is_not_a_teaser_but_still_ranks_below_it() -> None:
    assert not is_clickbait("Bull market turns 5: but is the party over?")
    assert is_clickbait("Is the party over for the bull market?")
    plain, asked = headline_scores(
        ["Bull market turns 5 as stocks rally", "Bull market turns 5 as stocks rally?"]
    )
    assert plain > asked


def test_all_caps_loses_even_when_central() -> None:
    assert pick_headline(with_extra("CHRYSLER RECALLS JEEP GRAND CHEROKEE SUVS OVER BRAKE FAULT")) != 2


def test_a_story_of_only_bad_titles_still_gets_one() -> None:
    titles = ["LIVE: Jeep recall", "You won't believe this Jeep recall", "JEEP RECALL NOW"]
    assert pick_headline(titles) in (0, 1, 2)


# --- informative: key terms, numbers, names, length -------------------------------------


def test_the_title_with_the_key_terms_and_a_number_beats_the_shortest_and_the_longest() -> None:
    long = STORY[0] + ", dealers told to fix them for free, owners notified by mail from next week onwards"
    titles = [STORY[1], STORY[2], long, STORY[0], STORY[3]]
    assert titles[pick_headline(titles)] == STORY[0]


def test_numbers_and_names_are_specific_details() -> None:
    plain, numbered = headline_scores(
        ["Chrysler recalls SUVs over brakes", "Chrysler recalls 25,000 SUVs over brakes"]
    )
    assert numbered > plain
    # Names only count in sentence case: in Title Case every word is capitalised.
    vague, named = headline_scores(
        ["carmaker recalls SUVs over brakes", "carmaker Chrysler recalls SUVs over brakes"]
    )
    assert named > vague


def test_centrality_counts_a_syndicated_title_once() -> None:
    reprint = "Jeep owners told: check your brakes now - WXYZ"
    titles = [reprint] * 6 + STORY
    shown = [display_title(t) for t in titles]
    central = title_centrality(shown)
    # Six copies of one station's wire title do not outvote the outlets that wrote their own.
    assert titles[pick_headline(titles)] in STORY
    assert central[0] < max(central[6:])


def test_an_off_topic_title_is_not_central() -> None:
    central = title_centrality([*STORY, "Why I moved to the countryside"])
    assert central[-1] == 0.0
    assert min(central[:-1]) > 0.2


# --- display ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Chrysler recalls Jeep SUVs over brakes - Reuters", "Chrysler recalls Jeep SUVs over brakes"),
        ("Chrysler recalls Jeep SUVs over brakes | BBC News", "Chrysler recalls Jeep SUVs over brakes"),
        ("Chrysler recalls Jeep SUVs - CNBC.com | Yahoo Finance", "Chrysler recalls Jeep SUVs"),
        (
            "Chrysler recalls Jeep SUVs over brakes - FOX Carolina 21",
            "Chrysler recalls Jeep SUVs over brakes",
        ),
        ("Chrysler recalls Jeep SUVs over brakes - WSHM", "Chrysler recalls Jeep SUVs over brakes"),
        ("Miley Cyrus - Miley Cyrus fan arrested backstage", "Miley Cyrus fan arrested backstage"),
        # An attribution is part of the news; a suffix that would leave two words stays.
        ("ECB unlikely to end sterilisation - traders", "ECB unlikely to end sterilisation - traders"),
        ("Jeep recall - Reuters", "Jeep recall - Reuters"),
        ("  Chrysler   recalls\nJeep SUVs ", "Chrysler recalls Jeep SUVs"),
        ("Opening Bell 10 March | Asian markets slump", "Opening Bell 10 March | Asian markets slump"),
        ("Scenes from SXSW | 03.09.14", "Scenes from SXSW"),
        ("Stocks end lower on weak data - Wall Street Journal", "Stocks end lower on weak data"),
        ("Stocks end lower on weak data - Wall Street", "Stocks end lower on weak data - Wall Street"),
        ("Lohan reality show verdict - FOX5 Vegas - KVVU", "Lohan reality show verdict"),
    ],
)
def test_display_title_strips_outlet_suffixes(title: str, shown: str) -> None:
    assert display_title(title) == shown


def test_display_title_strips_the_items_own_outlet_name_whatever_it_looks_like() -> None:
    title = "Chrysler recalls Jeep SUVs over brakes - Autoblog Green"
    assert display_title(title) == title
    assert display_title(title, ["Autoblog Green"]) == "Chrysler recalls Jeep SUVs over brakes"


# --- the digest entry: headline and summary -------------------------------------------------


def art(title: str, source: str, minutes: int, summary: str | None = None, extracted: str | None = None):
    return DigestArticle(
        story_id="s1",
        title=title,
        url=f"https://{source}.example/{minutes}",
        source_name=source,
        published=T0 + timedelta(minutes=minutes),
        summary=summary,
        extracted_summary=extracted,
    )


def entry_of(articles: list[DigestArticle]):
    [entry] = compose_digest(articles, period_start=T0, period_end=T0 + timedelta(days=1)).entries
    return entry


def test_entry_headline_is_shown_without_the_outlet_suffix() -> None:
    entry = entry_of([art(STORY[0] + " - Reuters", "reuters", 1), art(STORY[2], "ap", 2)])
    assert entry.headline == STORY[0]
    assert entry.url == "https://reuters.example/1"


def test_summary_is_the_headline_sources_extraction_when_cached() -> None:
    entry = entry_of(
        [
            art(STORY[2], "ap", 1, summary="AP feed teaser.", extracted="AP page summary. Second."),
            art(STORY[0], "reuters", 2, summary="Reuters feed teaser.", extracted="Reuters page summary."),
            art(STORY[1], "bbc", 3, summary="BBC feed teaser."),
        ]
    )
    assert entry.url == "https://reuters.example/2"
    assert entry.summary == "Reuters page summary."


def test_summary_falls_back_to_the_most_central_extraction_then_to_the_feed() -> None:
    # The headline's article (Reuters) has no extraction: the most central one that has wins.
    items = [
        art(STORY[0], "reuters", 1, summary="Reuters feed teaser."),
        art("Why I moved to the countryside", "blog", 2, extracted="A blog's page summary."),
        art(STORY[3], "bbc", 3, extracted="BBC page summary."),
    ]
    assert entry_of(items).summary == "BBC page summary."
    assert entry_of([art(STORY[0], "reuters", 1, summary="Reuters feed teaser.")]).summary == (
        "Reuters feed teaser."
    )


def test_extracted_summary_is_fitted_and_loses_the_repeated_title() -> None:
    long = STORY[0] + ". " + "A sentence about the recall that goes on and on. " * 20
    summary = entry_of([art(STORY[0], "reuters", 1, extracted=long)]).summary
    assert (
        summary
        == "A sentence about the recall that goes on and on. A sentence about the recall that goes on and on."
    )


def test_an_extracted_summary_is_escaped_when_rendered() -> None:
    page_text = "Owners of **all** Jeep SUVs, @everyone, should call [dealers](https://x.example)."
    entry = entry_of([art(STORY[0], "reuters", 1, extracted=page_text)])
    [[embed]] = render_digest(
        compose_digest([art(STORY[0], "reuters", 1, extracted=page_text)], period_start=T0, period_end=T0),
        title="Digest",
    )
    assert entry.summary == page_text
    description = embed.description or ""
    assert "**all**" not in description and "\\*\\*all\\*\\*" in description
    assert "@everyone" not in description and "](https://x.example)" not in description


def test_summary_candidates_put_the_headline_source_first_and_stop_at_the_limit() -> None:
    items = [art(t, f"o{n}", n) for n, t in enumerate(STORY)]
    other = DigestArticle("s2", "Storm hits coast", "https://x.example/s", "x", published=T0)
    urls = summary_candidates([*items, other], limit=1, per_story=2)
    assert urls[0] == items[pick_headline(STORY, [a.published for a in items])].url
    assert len(urls) == 2 and other.url not in urls


# --- on a real database (SQLite and PostgreSQL) ------------------------------------------------


def page(url: str, summary: str) -> Article:
    return Article(
        url=url,
        canonical_url=url,
        title=None,
        author=None,
        published=None,
        site_name=None,
        description=None,
        image_url=None,
        language="en",
        text=summary,
        word_count=len(summary.split()),
        reading_minutes=1,
        summary=summary,
    )


async def test_digest_shows_the_best_sources_cached_extraction(db: Database) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
    seen, t = clock(), clock() - timedelta(minutes=30)
    feeds = {name: await add_feed(db, f"{name}.example") for name in "abc"}
    best = "Magnitude 7.1 earthquake strikes off Japan coast, tsunami warning issued"
    titles = {"a": best + " - Reuters", "b": "LIVE: " + QUAKE[2], "c": QUAKE[3]}
    for n, name in enumerate("abc"):
        await subscribe(db, feeds[name], CHANNEL, guild_id=GUILD)
        item = NewItem(
            titles[name],
            f"https://{name}.example/q?utm_source=rss",
            t + timedelta(minutes=n),
            f"{name} feed teaser.",
        )
        await add_items(db, feeds[name], [item], seen=seen)
    await group(db, clock)
    cache = ArticleCache(db)
    # Cached as /fetch or an extract:true subscription leaves them (the canonical URL).
    for name in "abc":
        url = f"https://{name}.example/q"
        await cache.put(
            canonicalize_url(url), page(url, f"Page of {name}: the quake, in full."), fetched_at=seen
        )
    service = digest_service(db)
    service_with_cache = DigestService(DigestStore(db), StoryStore(db), articles=cache)

    pages = await service.preview(CHANNEL, clock.advance(minutes=5))
    plain = "\n".join(e.description or "" for p in pages for e in p)
    assert "a feed teaser." in plain and "Page of" not in plain  # no cache given: as before

    assert await service_with_cache.post_now(CHANNEL, clock.advance(minutes=1), guild_id=GUILD) == 1
    text = text_of((await digests_of(db))[-1])
    assert f"[{best}](https://a.example/q?utm_source=rss)" in text  # suffix gone, no ticker
    assert "Page of a: the quake, in full." in text
    assert "feed teaser" not in text and "Page of b" not in text and "Page of c" not in text
