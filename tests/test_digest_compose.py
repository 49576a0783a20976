"""Digest composition (one entry per story, ranked) and rendering within Discord's limits."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.message import EmbedSpec, message_length
from bot.digests import (
    Digest,
    DigestArticle,
    compose_digest,
    join_names,
    lead_sentences,
    pick_headline,
    render_digest,
)
from bot.digests.compose import DigestEntry, SourceLink
from bot.digests.render import render_entry
from bot.discord_text import discord_length
from bot.outlets import outlet_key

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def art(story, title, source, minutes=0, url=None, summary=None):
    return DigestArticle(
        story_id=story,
        title=title,
        url=url or f"https://{source.lower().replace(' ', '')}.example/{story}/{minutes}",
        source_name=source,
        published=T0 + timedelta(minutes=minutes),
        summary=summary,
    )


def digest_of(articles, limit=10):
    return compose_digest(articles, period_start=T0, period_end=T1, limit=limit)


# --- text helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["A"], "A"),
        (["A", "B"], "A and B"),
        (["A", "B", "C"], "A, B and C"),
        (["A", "B", "C", "D"], "A, B, C and D"),
        (["A", "B", "C", "D", "E", "F", "G"], "A, B, C and 4 more"),
    ],
)
def test_join_names_is_oxford_less(names, expected):
    assert join_names(names) == expected


def test_join_names_with_only_the_first_names_formatted():
    assert join_names(["A", "B", "C", "D"], total=9) == "A, B, C and 6 more"
    assert join_names(["A", "B"], total=2) == "A and B"
    # Fewer names given than the total: never a list that looks complete.
    assert join_names(["A", "B", "C", "D", "E"], max_named=5, total=6) == "A, B, C, D, E and 1 more"
    assert join_names(["A", "B"], max_named=3, total=3) == "A, B and 1 more"


def test_lead_sentences_cut_at_sentence_ends():
    text = (
        "The U.S. Senate passed the bill on Tuesday. Mr. Smith said it was a good day. "
        "A third sentence that should not appear."
    )
    assert (
        lead_sentences(text)
        == "The U.S. Senate passed the bill on Tuesday. Mr. Smith said it was a good day."
    )
    assert lead_sentences(text, max_sentences=1) == "The U.S. Senate passed the bill on Tuesday."
    # Two sentences over the limit: only the first.
    long_second = "Short first one. " + "Word " * 80 + "end."
    assert lead_sentences(long_second) == "Short first one."
    # A first sentence over the limit is cut at a word, with an ellipsis.
    huge = "word " * 200
    cut = lead_sentences(huge)
    assert len(cut) <= 300 and cut.endswith("…") and " wor…" not in cut
    assert lead_sentences("  \n ") == "" and lead_sentences(None) == ""
    assert lead_sentences('He said "stop." Then he left. More.') == 'He said "stop." Then he left.'


def test_outlet_key_merges_feeds_of_one_outlet():
    bbc = {
        outlet_key(s)
        for s in ("https://feeds.bbci.co.uk/news/rss.xml", "https://www.bbci.co.uk/x", "bbci.co.uk")
    }
    assert bbc == {"bbci.co.uk"}
    assert outlet_key("BBC News") == outlet_key("BBC News - World") == outlet_key("bbc")
    assert outlet_key("The Guardian") == outlet_key("Guardian | Politics")
    assert outlet_key("reuters.com") != outlet_key("apnews.com")
    assert outlet_key("Fox News") != outlet_key("Fox Sports")


# --- headline choice --------------------------------------------------------------


def test_headline_is_the_most_central_title():
    titles = [
        "Earthquake of magnitude 7.1 strikes off Japan coast",
        "Magnitude 7.1 earthquake strikes Japan, tsunami warning issued",
        "Why I moved to the countryside",  # an odd one the grouper let in
        "Strong earthquake strikes Japan coast; tsunami warning",
    ]
    best = pick_headline(titles)
    assert best in (0, 1, 3)
    assert best != 2


def test_headline_avoids_all_caps_and_clickbait_even_if_central():
    titles = [
        "EARTHQUAKE STRIKES JAPAN COAST MAGNITUDE 7",
        "Earthquake strikes Japan coast",
        "You won't believe what this earthquake did to Japan coast!!",
    ]
    assert pick_headline(titles) == 1
    long_title = "Earthquake strikes Japan coast " + "and here is a very long lead pasted in " * 5
    assert pick_headline([long_title, "Earthquake strikes Japan's coast today"]) == 1


def test_headline_ties_go_to_the_earliest():
    titles = ["Markets rally on rate cut hopes", "Markets rally on rate cut hopes"]
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    assert pick_headline(titles, [later, earlier]) == 1
    assert pick_headline(titles, [None, earlier]) == 1
    assert pick_headline(titles) == 0
    with pytest.raises(ValueError):
        pick_headline([])


# --- composition --------------------------------------------------------------------


def test_one_entry_per_story_with_sources_deduplicated_by_outlet():
    articles = [
        art(
            "s1", "Central bank cuts rates by half a point", "Reuters", 5, summary="Rates fell. Markets rose."
        ),
        art("s1", "Central bank cuts interest rates by half point", "BBC News", 10),
        art("s1", "Rates cut: what it means", "BBC News - Business", 12),
        art("s1", "Central bank cuts rates by half a point", "reuters", 30),
        art("s2", "Storm hits the coast", "AP", 20),
    ]
    digest = digest_of(articles)
    assert [e.story_id for e in digest.entries] == ["s1", "s2"]
    s1 = digest.entries[0]
    assert [s.name for s in s1.sources] == ["Reuters", "BBC News"]
    assert s1.sources[0].url == articles[0].url  # the outlet's first report
    assert s1.article_count == 4
    assert s1.latest == T0 + timedelta(minutes=30)
    assert s1.headline == "Central bank cuts rates by half a point"
    assert s1.url == articles[0].url
    assert s1.summary == "Rates fell. Markets rose."
    assert digest.total_stories == 2 and digest.omitted == 0


def test_summary_falls_back_and_drops_a_repeated_title():
    articles = [
        art(
            "s1",
            "Storm hits the coast",
            "AP",
            1,
            summary="Storm hits the coast. Thousands lost power overnight.",
        ),
        art("s1", "Storm hits the coast", "CNN", 2),
    ]
    assert digest_of(articles).entries[0].summary == "Thousands lost power overnight."
    articles = [
        art("s1", "Storm hits the coast", "AP", 1, summary=None),
        art(
            "s1",
            "Coastal storm cuts power",
            "CNN",
            2,
            summary="Winds reached 150 km/h. Schools closed. Roads shut.",
        ),
    ]
    assert digest_of(articles).entries[0].summary == "Winds reached 150 km/h. Schools closed."


def test_ranking_by_distinct_outlets_then_recency_and_top_n():
    articles = []
    # s-a: 3 outlets; s-b: 2 outlets (one of them with 5 feeds); s-c, s-d: 1 outlet, d more recent.
    articles += [art("s-a", "A story", src, 1) for src in ("AP", "BBC", "CNN")]
    articles += [art("s-b", "B story", "Reuters", m) for m in range(5)] + [art("s-b", "B story", "DW", 50)]
    articles += [art("s-c", "C story", "AP", 100)]
    articles += [art("s-d", "D story", "AP", 200)]
    articles += [art("s-e", "E story", "NPR", 200)]
    digest = digest_of(articles)
    assert [e.story_id for e in digest.entries] == ["s-a", "s-b", "s-d", "s-e", "s-c"]
    top = digest_of(articles, limit=2)
    assert [e.story_id for e in top.entries] == ["s-a", "s-b"]
    assert top.total_stories == 5 and top.omitted == 3
    # Input order does not matter.
    shuffled = list(articles)
    random.Random(7).shuffle(shuffled)
    assert digest_of(shuffled) == digest


def test_ranking_matches_a_brute_force_on_random_input():
    rng = random.Random(3)
    outlets = [f"Outlet {i}" for i in range(8)]
    articles = [
        art(f"s{rng.randrange(30)}", f"Title {i}", rng.choice(outlets), rng.randrange(1000))
        for i in range(300)
    ]
    digest = digest_of(articles, limit=30)
    by_story: dict[str, list[DigestArticle]] = {}
    for a in articles:
        by_story.setdefault(a.story_id, []).append(a)
    expected = sorted(
        by_story,
        key=lambda s: (
            -len({a.source_name for a in by_story[s]}),
            -max(a.published.timestamp() for a in by_story[s]),
            s,
        ),
    )
    assert [e.story_id for e in digest.entries] == expected


# --- rendering --------------------------------------------------------------------


def assert_within_limits(messages: list[list[EmbedSpec]], *, description=4096, total=6000, per_message=10):
    assert messages
    for embeds in messages:
        assert 1 <= len(embeds) <= per_message
        assert message_length(embeds) <= total
        for embed in embeds:
            assert embed.within_limits()
            assert discord_length(embed.description) <= description


def test_entry_markdown_has_linked_headline_summary_and_reported_by():
    articles = [
        art("s1", "Storm hits the coast", "AP", 1, url="https://ap.example/storm", summary="Winds. Rain."),
        art("s1", "Storm hits the coast", "BBC", 2, url="https://bbc.example/storm"),
        art("s1", "Storm hits coast", "CNN", 3, url="https://cnn.example/storm"),
    ]
    messages = render_digest(digest_of(articles), title="Morning digest")
    assert len(messages) == 1 and len(messages[0]) == 1
    embed = messages[0][0]
    assert embed.title == "Morning digest"
    assert embed.description == (
        "**[Storm hits the coast](https://ap.example/storm)**\n"
        "Winds. Rain.\n"
        "reported by [AP](https://ap.example/storm), [BBC](https://bbc.example/storm) "
        "and [CNN](https://cnn.example/storm)"
    )
    assert embed.footer_text is not None and embed.footer_text.startswith("1 story since 27 Nov 2026 08:00")
    assert embed.timestamp == T1


def test_many_sources_are_summarised_as_n_more():
    articles = [art("s1", "Storm hits the coast", f"Outlet {i}", i) for i in range(9)]
    text = render_digest(digest_of(articles), title="D")[0][0].description
    assert text is not None
    assert text.endswith("and 4 more")
    assert text.count("](") == 1 + 5


def test_feed_text_cannot_forge_links_or_mentions():
    articles = [
        art(
            "s1",
            "[Click](https://evil.example) @everyone <@&123> **bold**",
            "Evil <@456> @here",
            1,
            url="javascript:alert(1)",
            summary="# Heading\n> quote @everyone",
        )
    ]
    text = render_digest(digest_of(articles), title="@everyone digest")[0][0]
    body = f"{text.title}\n{text.description}"
    assert "@everyone" not in body and "@here" not in body
    assert re.search(r"<@[!&]?\d+>", body) is None
    assert "](https://evil.example)" not in body
    assert "](javascript" not in body
    assert "\n#" not in body and "\n>" not in body


def test_empty_digest_says_so():
    messages = render_digest(digest_of([]), title="Evening digest")
    assert len(messages) == 1 and len(messages[0]) == 1
    embed = messages[0][0]
    assert embed.description == "No new stories since 27 Nov 2026 08:00 UTC."
    assert embed.title == "Evening digest"


def _huge_articles(stories: int, rng: random.Random) -> list[DigestArticle]:
    articles = []
    for s in range(stories):
        title = f"Story {s:03d} " + " ".join(
            rng.choice(["big", "news", "🔥", "é", "word"]) for _ in range(120)
        )
        summary = ("Sentence with emoji 😀 and words. " * 200) if s % 2 else ("x" * 5000)
        for o in range(rng.randrange(1, 40)):
            url = f"https://outlet{o}.example/{s}/" + "p" * rng.choice([10, 500, 3000])
            articles.append(
                DigestArticle(
                    f"s{s:03d}", title, url, f"Outlet {o} " + "n" * rng.randrange(0, 300), T0, summary
                )
            )
    return articles


@pytest.mark.parametrize(
    ("limits", "stories"),
    [
        ({}, 40),
        ({"description_limit": 1000, "embed_total_limit": 2500, "embeds_per_message": 3}, 25),
        ({"description_limit": 300, "embed_total_limit": 800, "embeds_per_message": 2}, 10),
    ],
)
def test_every_rendered_piece_is_within_limits_with_many_huge_entries(limits, stories):
    rng = random.Random(stories)
    digest = digest_of(_huge_articles(stories, rng), limit=stories)
    messages = render_digest(digest, title="Digest " + "t" * 400, **limits)
    assert_within_limits(
        messages,
        description=limits.get("description_limit", 4096),
        total=limits.get("embed_total_limit", 6000),
        per_message=limits.get("embeds_per_message", 10),
    )
    # Each entry appears once, whole, in order; none is split across embeds.
    descriptions = [e.description or "" for m in messages for e in m]
    placed = [
        i
        for entry in digest.entries
        for i, d in enumerate(descriptions)
        if f"Story {entry.story_id[1:]}" in d
    ]
    assert len(placed) == len(digest.entries)
    assert placed == sorted(placed)
    blocks = [b for d in descriptions for b in d.split("\n\n")]
    assert len(blocks) == len(digest.entries)
    assert all(b.startswith("**") or b.startswith("Story") for b in blocks)
    # Only the last embed has the footer.
    footers = [e.footer_text for m in messages for e in m]
    assert footers[-1] and not any(footers[:-1])
    assert messages[0][0].title and all(m[0].title for m in messages)


def test_a_too_long_entry_drops_links_then_shortens_the_summary():
    sources = tuple(SourceLink(f"Outlet {i}", f"https://o{i}.example/" + "p" * 100) for i in range(12))
    entry = DigestEntry(
        "s1", "Storm hits the coast", "https://ap.example/storm", "Long. " * 200, sources, 12, T0
    )
    full = render_entry(entry, 100_000)
    assert full.count("](https://o") == 5
    # Room for 3 links but not 5: links dropped, summary intact.
    three = render_entry(entry, len(full) - 200)
    assert three.count("](https://o") == 3 and "and 9 more" in three
    assert ("Long. " * 200).strip() in three
    # Less room: the summary is cut, the links stay.
    cut = render_entry(entry, 900)
    assert discord_length(cut) <= 900 and cut.count("](https://o") == 3 and "…" in cut
    assert cut.startswith("**[Storm hits the coast](https://ap.example/storm)**")
    # Very little room: still the headline, never more than the budget.
    for budget in (300, 120, 40):
        tiny = render_entry(entry, budget)
        assert discord_length(tiny) <= budget and "Storm" in tiny


def test_render_splits_into_several_embeds_and_messages():
    articles = [
        art(f"s{i:02d}", f"Headline number {i}", "AP", i, summary="Words here. " * 20) for i in range(30)
    ]
    digest = digest_of(articles, limit=30)
    messages = render_digest(
        digest, title="D", description_limit=1200, embed_total_limit=3000, embeds_per_message=2
    )
    assert len(messages) > 1
    assert_within_limits(messages, description=1200, total=3000, per_message=2)
    text = "\n\n".join(e.description or "" for m in messages for e in m)
    assert [int(n) for n in re.findall(r"Headline number (\d+)", text)] == [
        int(e.headline.split()[-1]) for e in digest.entries
    ]
    assert isinstance(digest, Digest)


# --- real headlines ------------------------------------------------------------------

UCI = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci-news-aggregator-head" / "articles.jsonl"


@pytest.mark.skipif(not UCI.exists(), reason=f"shared UCI headlines not found at {UCI}")
def test_digest_of_real_headlines_labelled_by_story():
    rows = [json.loads(line) for line in UCI.read_text(encoding="utf-8").splitlines() if line.strip()]
    articles = [
        DigestArticle(
            story_id=r["story"],
            title=r["title"],
            url=r["url"],
            source_name=r["hostname"],
            published=datetime.fromtimestamp(r["timestamp_ms"] / 1000, UTC),
        )
        for r in rows
    ]
    digest = digest_of(articles, limit=100)
    titles: dict[str, set[str]] = {}
    outlets: dict[str, set[str]] = {}
    for a in articles:
        titles.setdefault(a.story_id, set()).add(" ".join(a.title.split()))
        outlets.setdefault(a.story_id, set()).add(outlet_key(a.source_name))
    assert digest.total_stories == len(titles) == len(digest.entries)
    for entry in digest.entries:
        assert entry.headline in titles[entry.story_id]
        assert len(entry.sources) == len(outlets[entry.story_id])
        # A cut-off or shouting title is chosen only when the story has nothing better.
        alternatives = [t for t in titles[entry.story_id] if not re.search(r"(\.\.\.|…|:)\s*$", t)]
        if alternatives:
            assert not re.search(r"(\.\.\.|…|:)\s*$", entry.headline), entry.headline
    counts = [len(e.sources) for e in digest.entries]
    assert counts == sorted(counts, reverse=True)
    messages = render_digest(digest, title="Digest")
    assert_within_limits(messages)
    assert sum(len((e.description or "").split("\n\n")) for m in messages for e in m) == len(digest.entries)


def test_outlets_are_told_apart_by_host_but_named_by_their_feed_titles():
    def hosted(title, host, display, minutes):
        return dataclasses.replace(art("s1", title, host, minutes), display_name=display)

    articles = [
        hosted("Central bank cuts rates", "bbc.co.uk", "BBC News - Business", 5),
        hosted("Rates cut by half a point", "bbc.co.uk", "BBC News", 6),
        hosted("Central bank cuts rates again", "reuters.com", "Reuters", 7),
        art("s1", "Rates: what it means", "apnews.com", 8),  # no title known: the host is shown
    ]
    sources = digest_of(articles).entries[0].sources
    assert [s.name for s in sources] == ["BBC News", "Reuters", "apnews.com"]


def test_one_publisher_on_several_domains_is_one_outlet_in_ranking_and_links():
    # Four domains of two publishers (as alerts count them) against three independent outlets.
    def hosted(story, host, display, minutes):
        article = art(story, "Rates cut by half a point", host, minutes)
        return dataclasses.replace(article, display_name=display)

    articles = [
        hosted("s1", "bbc.co.uk", "BBC News", 1),
        hosted("s1", "bbc.com", "BBC World", 2),
        hosted("s1", "feeds.reuters.com", "Reuters", 3),
        hosted("s1", "reuters.co.uk", "Reuters UK", 4),
        hosted("s2", "apnews.com", "AP", 5),
        hosted("s2", "theguardian.com", "The Guardian", 6),
        hosted("s2", "npr.org", "NPR", 7),
    ]
    digest = digest_of(articles)
    assert [e.story_id for e in digest.entries] == ["s2", "s1"]
    assert [s.name for s in digest.entries[1].sources] == ["BBC News", "Reuters"]
