"""Recurring titles (bot/recurring.py) never make a story."""

from __future__ import annotations

import pytest

from bot.recurring import is_recurring_title


@pytest.mark.parametrize(
    "title",
    [
        "Today's weather",
        "Today’s Weather",
        "Weather forecast for Monday, December 7",
        "Daily crossword",
        "Cryptic crossword No 29,215",
        "Sudoku",
        "Live updates",
        "LIVE",
        "Morning Briefing: Tuesday, Dec. 8",
        "Horoscope for December 7, 2026",
        "Lottery results",
        "Business Highlights",
        "The day in pictures",
        "Corrections and clarifications",
        # Other languages and scripts.
        "Météo du lundi 7 décembre",
        "Das Wetter am Montag",
        "Kreuzworträtsel",
        "Liveticker",
        "El tiempo de hoy",
        "Crucigrama",
        "Oroscopo di oggi",
        "En direct",
        "今日の天気",
        "天气预报",
    ],
)
def test_recurring_titles(title: str) -> None:
    assert is_recurring_title(title)


@pytest.mark.parametrize(
    "title",
    [
        "Live updates: earthquake of magnitude 7.1 strikes Japan",
        "Live updates - Earthquake strikes Japan",
        "Storm weather warning issued for Scotland",
        "Crossword setter dies aged 90",
        "Weather service says hurricane will make landfall tonight",
        "GM recall widens to 1.6 million cars",
        "Stocks rally as Fed signals rate cut in December",
        "Tempête : alerte météo rouge dans le Finistère",
        "日本の東海岸で地震",
        "",
        "   ",
    ],
)
def test_news_is_not_recurring(title: str) -> None:
    assert not is_recurring_title(title)


def test_a_publishers_name_after_a_recurring_title_is_still_recurring() -> None:
    assert is_recurring_title("Weather forecast - BBC News", "BBC News")
    assert is_recurring_title("Daily Crossword | The Guardian", "The Guardian")
    # Without the publisher's name, a part after the separator may be news.
    assert not is_recurring_title("Weather forecast - BBC News")
    assert not is_recurring_title("Live updates - Earthquake strikes Japan", "BBC News")
    # A date after the separator is no news.
    assert is_recurring_title("Today's weather - 7 December 2026")
