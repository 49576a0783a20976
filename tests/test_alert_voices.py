"""Breaking alerts that are never fooled: the decision counts voices (bot/alerts/voices.py).

Feeds, sections and domains of one publisher count once; a wire story reprinted word for word
counts once unless the channel counts reprints; recurring titles count for nothing; undated
articles of a feed's first fetch never make a story breaking.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.alerts import AlertArticle, AlertSettings, AlertStory, decide_alert
from bot.alerts.content import alert_content
from bot.alerts.voices import story_voices, voice_count

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WIRE_TITLE = "Magnitude 7.1 earthquake strikes off the coast of Japan, tsunami warning issued"
WIRE_LEAD = "TOKYO (AP) — A powerful earthquake struck off Japan's northeast coast on Monday, officials said."


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def art(source: str, title: str, minutes: float = 5, **extra: object) -> AlertArticle:
    return AlertArticle(
        source=source, published=ago(minutes), title=title, url=f"https://{source}/a", **extra
    )  # type: ignore[arg-type]


def story(*articles: AlertArticle) -> AlertStory:
    return AlertStory("s1", tuple(articles))


def decide(s: AlertStory, **settings: object) -> str:
    return decide_alert(s, None, NOW, settings=AlertSettings(**settings)).kind  # type: ignore[arg-type]


def test_three_publishers_make_a_story_breaking() -> None:
    s = story(
        art("reuters.com", "Quake hits Japan", 30),
        art("apnews.com", "Japan quake: tsunami warning", 20),
        art("nhk.or.jp", "Earthquake off Japan coast", 10),
    )
    assert decide(s) == "post"


def test_feeds_and_domains_of_one_publisher_count_once() -> None:
    # bbc.co.uk, bbc.com and its feed host, a section's subdomain, and its feed title: one BBC.
    s = story(
        art("bbc.co.uk", "Japan earthquake: tsunami warning issued", 30),
        art("bbc.com", "Earthquake strikes off Japan", 25),
        art("feeds.bbci.co.uk", "Japan quake: what we know", 20),
        art("BBC News - Asia", "Tsunami warning after Japan quake", 15),
        art("reuters.com", "Quake hits Japan", 10),
    )
    assert voice_count(s) == 2
    assert decide(s) == "none"
    assert decide(story(*s.articles, art("nhk.or.jp", "Earthquake off Japan coast", 5))) == "post"


def test_a_sites_sections_count_once() -> None:
    s = story(
        art("washington.cbslocal.com", "Japan quake rattles markets", 30),
        art("boston.cbslocal.com", "Japan earthquake: tsunami warning", 20),
        art("newyork.cbslocal.com", "Earthquake strikes Japan", 10),
    )
    assert voice_count(s) == 1 and decide(s, min_sources=2) == "none"


def test_a_wire_story_reprinted_word_for_word_counts_once_unless_the_channel_counts_reprints() -> None:
    members = [f"paper{i}.example" for i in range(4)]
    s = story(
        art("apnews.com", WIRE_TITLE, 30, summary=WIRE_LEAD),
        *(art(m, WIRE_TITLE, 25 - i, summary=WIRE_LEAD + " More to come.") for i, m in enumerate(members)),
    )
    assert voice_count(s) == 1
    assert decide(s) == "none"
    assert voice_count(s, count_reprints=True) == 5
    assert decide(s, count_reprints=True) == "post"
    # The alert names the voices the decision counted.
    _, embed, _ = alert_content(s, role_id=None)
    assert embed.footer_text == "1 outlet so far"
    _, embed, _ = alert_content(s, role_id=None, count_reprints=True)
    assert embed.footer_text == "5 outlets so far"


def test_a_reprint_is_found_under_its_outlets_name_appended_to_the_headline() -> None:
    s = story(
        art("apnews.com", WIRE_TITLE, 30, display_name="AP News"),
        art(
            "paper1.example",
            f"{WIRE_TITLE} - The Paper One Gazette",
            20,
            display_name="The Paper One Gazette",
        ),
        art("paper2.example", f"{WIRE_TITLE} | paper2.example", 10),
        # A different tail is part of the headline, not the outlet's name.
        art("paper3.example", f"{WIRE_TITLE} - officials", 5, display_name="Paper Three"),
    )
    assert voice_count(s) == 2


def test_the_same_headline_over_another_lead_is_not_a_reprint() -> None:
    s = story(
        art("apnews.com", WIRE_TITLE, 30, summary=WIRE_LEAD),
        art(
            "paper1.example",
            WIRE_TITLE,
            20,
            summary="Our correspondent in Sendai reports damage to the port.",
        ),
        art("paper2.example", WIRE_TITLE, 10),  # no lead: a copy of the first
    )
    assert voice_count(s) == 2


def test_short_shared_headlines_are_not_reprints() -> None:
    s = story(
        art("a.example", "Oil falls", 30),
        art("b.example", "Oil falls", 20),
        art("c.example", "Oil falls", 10),
    )
    assert voice_count(s) == 3


def test_a_reprint_keeps_the_voice_of_its_earliest_copy_and_others_still_count() -> None:
    s = story(
        art("paper1.example", WIRE_TITLE, 10, summary=WIRE_LEAD),
        art("apnews.com", WIRE_TITLE, 30, summary=WIRE_LEAD),
        art("paper1.example", "Local families check on relatives in Japan", 5),
        art("nhk.or.jp", "Earthquake off Japan coast", 8),
    )
    voices = {v for v, _ in story_voices(s)}
    assert voices == {"associated press", "paper1.example", "nhk"}
    assert decide(s) == "post"


def test_recurring_titles_never_make_a_story() -> None:
    outlets = ["reuters.com", "apnews.com", "nhk.or.jp", "cnn.com", "lemonde.fr"]
    titles = [
        "Today's weather",
        "Weather forecast for Monday",
        "Today’s Weather",
        "Weather",
        "Météo du lundi",
    ]
    s = story(*(art(o, t, i) for i, (o, t) in enumerate(zip(outlets, titles, strict=True))))
    assert voice_count(s) == 0
    assert decide(s) == "none"
    # Mixed into a real story, they still count for nothing.
    real = story(
        art("reuters.com", "Quake hits Japan", 5),
        art("apnews.com", "Live updates", 4),
        art("cnn.com", "Daily crossword", 3),
    )
    assert voice_count(real) == 1


def test_undated_imported_articles_count_as_outlets_but_never_make_a_story_breaking() -> None:
    imported = [art(f"feed{i}.example", "Quake hits Japan", 0, imported=True) for i in range(6)]
    s = story(*imported)
    assert voice_count(s) == 6
    assert decide(s) == "none"
    # Two dated reports and the imports: still two timed voices.
    s = story(*imported, art("reuters.com", "Quake hits Japan", 10), art("nhk.or.jp", "Japan quake", 5))
    assert decide(s) == "none"
    assert decide(story(*s.articles, art("cnn.com", "Earthquake in Japan", 1))) == "post"
