"""Breaking-story alerts: detection, the post/edit decision, mention-safe content, keywords."""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts import (
    AlertArticle,
    AlertSettings,
    AlertSettingsError,
    AlertStory,
    ChannelAlertState,
    KeywordAlert,
    KeywordError,
    alert_content,
    decide_alert,
    is_breaking,
    match_keywords,
)
from bot.outlets import outlet_key

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def breaking(sightings, now=NOW, min_sources=3, window=HOUR):
    return is_breaking(sightings, min_sources=min_sources, window=window, now=now)


# --- is_breaking ----------------------------------------------------------------


def test_three_outlets_within_the_window_is_breaking():
    assert breaking([("reuters.com", ago(50)), ("apnews.com", ago(30)), ("bbc.co.uk", ago(1))])
    assert not breaking([("reuters.com", ago(50)), ("apnews.com", ago(30))])
    assert breaking([("reuters.com", ago(50)), ("apnews.com", ago(30))], min_sources=2)


def test_outlets_spread_wider_than_the_window_are_not_breaking():
    # 70 minutes from first to last, with no 60-minute stretch holding all three.
    assert not breaking([("reuters.com", ago(80)), ("apnews.com", ago(45)), ("bbc.co.uk", ago(10))])
    # Exactly the window apart still counts (closed window).
    assert breaking([("reuters.com", ago(60)), ("apnews.com", ago(30)), ("bbc.co.uk", ago(0))])


def test_feeds_of_one_outlet_count_once():
    sightings = [
        ("https://feeds.bbci.co.uk/news/world/rss.xml", ago(20)),
        ("https://www.bbci.co.uk/news/rss.xml", ago(15)),
        ("bbci.co.uk", ago(10)),
        ("https://feeds.bbci.co.uk/news/business/rss.xml", ago(5)),
    ]
    assert not breaking(sightings)
    assert not breaking([("BBC News", ago(20)), ("BBC News - World", ago(10)), ("BBC", ago(5))])
    assert breaking([*sightings, ("reuters.com", ago(3)), ("apnews.com", ago(2))])


def test_an_old_burst_is_not_breaking_now():
    burst = [("reuters.com", ago(48 * 60)), ("apnews.com", ago(48 * 60 - 5)), ("bbc.co.uk", ago(48 * 60 - 9))]
    assert not breaking(burst)
    # A fourth outlet joining today does not make it breaking.
    assert not breaking([*burst, ("cnn.com", ago(2))])
    # But it was breaking back then.
    assert breaking(burst, now=NOW - timedelta(hours=47, minutes=55))


def test_the_window_must_end_within_the_last_window():
    # A burst 80-100 minutes ago: the window ending 60 minutes ago still holds it.
    assert breaking([("a.com", ago(100)), ("b.com", ago(90)), ("c.com", ago(80))])
    # A burst 130-150 minutes ago: every allowed window (ending 0-60 min ago) misses it.
    assert not breaking([("a.com", ago(150)), ("b.com", ago(140)), ("c.com", ago(130))])
    # Partly: two old, one recent, all within a window ending 60 min ago? 119, 100, 61: yes.
    assert breaking([("a.com", ago(119)), ("b.com", ago(100)), ("c.com", ago(61))])
    assert not breaking([("a.com", ago(121)), ("b.com", ago(100)), ("c.com", ago(59))])


def test_undated_are_ignored_and_future_dated_count_as_now():
    assert not breaking([("a.com", None), ("b.com", ago(5)), ("c.com", ago(1))])
    assert breaking([("a.com", NOW + timedelta(hours=5)), ("b.com", ago(5)), ("c.com", ago(1))])
    with pytest.raises(ValueError):
        breaking([("a.com", datetime(2026, 11, 28, 11))])


def _brute_force(sightings, *, min_sources, window_minutes, now):
    """Every window ending at a whole minute in [now - window, now] (inputs are whole minutes)."""
    points = [(min(p, now), outlet_key(s)) for s, p in sightings if p is not None]
    for back in range(window_minutes + 1):
        end = now - timedelta(minutes=back)
        start = end - timedelta(minutes=window_minutes)
        if len({o for t, o in points if start <= t <= end}) >= min_sources:
            return True
    return False


def test_is_breaking_matches_a_brute_force_on_random_stories():
    rng = random.Random(11)
    outlets = [f"outlet{i}.example" for i in range(6)]
    results = []
    for _ in range(400):
        window = rng.choice([15, 60, 180])
        sightings = [
            (rng.choice(outlets), NOW - timedelta(minutes=rng.randrange(-5, 4 * window)))
            for _ in range(rng.randrange(0, 8))
        ]
        min_sources = rng.choice([2, 3, 4])
        got = is_breaking(sightings, min_sources=min_sources, window=timedelta(minutes=window), now=NOW)
        assert got == _brute_force(sightings, min_sources=min_sources, window_minutes=window, now=NOW)
        results.append(got)
    assert 50 < sum(results) < 350  # both outcomes exercised


# --- decide_alert ---------------------------------------------------------------


def story(*sources_and_minutes, story_id="s1", title="Quake hits city"):
    return AlertStory(
        story_id,
        tuple(
            AlertArticle(src, ago(m), f"{title} ({src})" if title else "", f"https://{src}/{story_id}")
            for src, m in sources_and_minutes
        ),
    )


def test_decide_post_then_none_then_edit():
    settings = AlertSettings(min_sources=3, window_minutes=60)
    two = story(("a.com", 20), ("b.com", 10))
    assert decide_alert(two, None, NOW, settings=settings).kind == "none"
    three = story(("a.com", 20), ("b.com", 10), ("c.com", 5))
    action = decide_alert(three, None, NOW, settings=settings)
    assert (action.kind, action.source_count) == ("post", 3)
    state = ChannelAlertState("s1", source_count=3, alerted_at=NOW)
    assert decide_alert(three, state, NOW, settings=settings).kind == "none"
    # Another feed of an outlet already counted: nothing new.
    same = story(("a.com", 20), ("b.com", 10), ("c.com", 5), ("www.c.com", 1))
    assert decide_alert(same, state, NOW, settings=settings).kind == "none"
    # A new outlet, even days later: edit with the new count, never a second post.
    four = story(("a.com", 20), ("b.com", 10), ("c.com", 5), ("d.com", -2 * 24 * 60))
    action = decide_alert(four, state, NOW + 2 * timedelta(days=1), settings=settings)
    assert (action.kind, action.source_count) == ("edit", 4)


def test_decide_edits_a_post_still_in_the_outbox_and_checks_the_story():
    # The edit is queued after the post in its channel, so it need not wait for the post's id.
    four = story(("a.com", 20), ("b.com", 10), ("c.com", 5), ("d.com", 1))
    queued = ChannelAlertState("s1", source_count=3, alerted_at=NOW)
    assert (decide_alert(four, queued, NOW).kind, decide_alert(four, queued, NOW).source_count) == ("edit", 4)
    with pytest.raises(ValueError):
        decide_alert(four, ChannelAlertState("other", 3, NOW), NOW)


def test_a_stream_of_articles_alerts_a_channel_once_and_edits_on_growth():
    """Articles arrive over 3 hours; the loop decides every minute with a controllable clock."""
    settings = AlertSettings(min_sources=3, window_minutes=30)
    start = NOW
    arrivals = {
        0: "a.com",
        25: "www.a.com",
        40: "b.com",
        50: "c.com",
        51: "feeds.c.com",
        95: "d.com",
        170: "e.com",
    }
    articles: list[AlertArticle] = []
    state: ChannelAlertState | None = None
    posts, edits = [], []
    for minute in range(181):
        now = start + timedelta(minutes=minute)
        if minute in arrivals:
            articles.append(AlertArticle(arrivals[minute], now, "Quake", f"https://{arrivals[minute]}/q"))
        action = decide_alert(AlertStory("s1", tuple(articles)), state, now, settings=settings)
        if action.kind == "post":
            posts.append(minute)
            state = ChannelAlertState("s1", action.source_count, alerted_at=now)
        elif action.kind == "edit":
            assert state is not None
            edits.append((minute, action.source_count))
            state = ChannelAlertState("s1", action.source_count, state.alerted_at)
    # www.a.com (25), b (40) and c (50) are the first three outlets within 30 minutes.
    expected_post = next(
        m
        for m in range(181)
        if _brute_force(
            [(s, start + timedelta(minutes=t)) for t, s in arrivals.items() if t <= m],
            min_sources=3,
            window_minutes=30,
            now=start + timedelta(minutes=m),
        )
    )
    assert posts == [expected_post] == [50]
    # feeds.c.com is c.com again: no edit; d and e each add an outlet, even long after the burst.
    assert edits == [(95, 4), (170, 5)]


def test_settings_are_validated():
    assert AlertSettings().window == HOUR
    for bad in ({"min_sources": 1}, {"min_sources": 51}, {"window_minutes": 0}, {"role_id": -5}):
        with pytest.raises(AlertSettingsError):
            AlertSettings(**bad)


# --- alert_content ----------------------------------------------------------------

_ANY_MENTION = re.compile(r"@everyone|@here|<@[!&]?\d+>", re.I)


def hostile_story() -> AlertStory:
    titles = [
        "@everyone Quake hits <@&123> city",
        "Quake hits city @here <@456> <@!789>",
        "<@&999> quake hits city",
    ]
    return AlertStory(
        "s1",
        tuple(
            AlertArticle(
                f"Outlet @everyone {i} <@&{i}1>", ago(10 - i), title, f"https://o{i}.example/q", "@here Big."
            )
            for i, title in enumerate(titles)
        ),
    )


def test_role_is_mentioned_only_when_set_and_is_the_only_allowed_mention():
    content, embed, allowed = alert_content(hostile_story(), role_id=1234)
    assert allowed == (1234,)
    assert _ANY_MENTION.findall(content) == ["<@&1234>"]
    assert content.startswith("<@&1234> ")
    for text in (embed.title, embed.description, embed.footer_text):
        assert not _ANY_MENTION.search(text or "")

    content, embed, allowed = alert_content(hostile_story(), role_id=None)
    assert allowed == ()
    assert not _ANY_MENTION.search(content)
    assert "Quake hits" in content or "quake hits" in content


def test_alert_embed_shows_headline_count_and_links():
    s = story(("a.com", 30), ("b.com", 20), ("www.b.com", 15), ("c.com", 10), title="Quake hits city")
    content, embed, _ = alert_content(s, role_id=None)
    assert "Quake hits city" in content
    assert embed.url == "https://a.com/s1"
    assert embed.description is not None and "Reported by 3 outlets" in embed.description
    assert "[a.com](https://a.com/s1)" in embed.description
    assert "[b.com](https://b.com/s1)" in embed.description
    assert embed.footer_text == "3 outlets so far"
    assert embed.timestamp == ago(30)
    assert embed.within_limits() and len(content) <= 2000


def test_alert_names_outlets_by_their_feed_titles_when_known():
    s = story(("a.com", 30), ("b.com", 20), ("c.com", 10), title="Quake hits city")
    titled = AlertStory(
        story_id=s.story_id,
        articles=tuple(
            dataclasses.replace(a, display_name="Alpha News" if a.source == "a.com" else None)
            for a in s.articles
        ),
    )
    _, embed, _ = alert_content(titled, role_id=None)
    assert embed.description is not None
    assert "[Alpha News](https://a.com/s1)" in embed.description
    assert "[b.com](https://b.com/s1)" in embed.description


def test_alert_content_stays_within_limits_with_huge_input():
    articles = tuple(
        AlertArticle(
            f"outlet{i}.example" + "x" * 200,
            ago(i % 50),
            "Quake 🔥 " * 500,
            "https://e.example/" + "p" * 3000,
        )
        for i in range(300)
    )
    content, embed, _ = alert_content(AlertStory("s1", articles), role_id=5)
    assert len(content) <= 2000 and content.startswith("<@&5> ")
    assert embed.within_limits()
    with pytest.raises(ValueError):
        alert_content(AlertStory("s1", ()), role_id=None)


# --- keywords ----------------------------------------------------------------------


def test_keywords_match_whole_words_and_phrases_case_insensitively():
    titles = [
        "AI rules agreed in Brussels",
        "Climate-change talks stall",
        "C++ 26 is out",
        "Café prices rise",
    ]
    assert match_keywords(titles, ["ai"]) == ["ai"]
    assert match_keywords(["He said so", "Thailand votes"], ["AI"]) == []
    assert match_keywords(titles, ["climate change", "CLIMATE CHANGE"]) == ["climate change"]
    assert match_keywords(titles, ["c++", "c#"]) == ["c++"]
    assert match_keywords(titles, ["cafe"]) == ["cafe"]
    assert match_keywords(titles, ["brussels", "rules", "nope"]) == ["brussels", "rules"]
    assert match_keywords(["Talks stall"], ["talks  stall"]) == ["talks stall"]
    assert match_keywords([], ["ai"]) == []


def test_keyword_alert_validation_and_objects():
    alert = KeywordAlert("  Climate   change ")
    assert alert.keyword == "Climate change"
    assert alert.matches("New climate change report")
    assert not alert.matches("Climate changes")
    assert match_keywords(["Climate change deal"], [alert, "deal"]) == ["Climate change", "deal"]
    for bad in ("", "   ", "!!!", "x" * 101):
        with pytest.raises(KeywordError):
            KeywordAlert(bad)


def test_alert_headline_is_shown_without_its_outlets_suffix():
    s = story(("a.com", 30), ("b.com", 20), ("c.com", 10), title="Quake hits city - Reuters")
    content, embed, _ = alert_content(s, role_id=None)
    assert embed.title == "Quake hits city" and content.endswith("Quake hits city")
    named = AlertStory(
        story_id=s.story_id,
        articles=tuple(
            AlertArticle(
                a.source, a.published, "Quake hits city | Daily Wire", a.url, display_name="Daily Wire"
            )
            for a in s.articles
        ),
    )
    assert alert_content(named, role_id=None)[1].title == "Quake hits city"
