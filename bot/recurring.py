"""Recurring titles: headlines a publisher reuses every day, which never make a story.

"Today's weather", "Daily crossword", "Live updates", "Morning briefing": many outlets publish
them at about the same time with the same words, so they look like one story reported
everywhere. :func:`is_recurring_title` says whether a headline is only such a title, once dates,
numbers, the publisher's name after a separator and punctuation are set aside. A headline that
says more ("Live updates: earthquake hits Chile") is news and is not recurring. Pure.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_recurring_title"]

# Words that date or number an issue: "Crossword No 16,842", "Weather for Monday 7 December".
_DATE_WORDS = " ".join(
    (
        "today todays tonight tonights tomorrow tomorrows yesterday this week weekend weekly daily "
        "morning evening night afternoon midday am pm for of on the a your our at in no number edition "
        "issue vol monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun "
        "january february march april may june july august september october november december "
        "jan feb mar apr jun jul aug sep sept oct nov dec "
        # French, German, Spanish, Italian, Portuguese, Dutch: the same dating words.
        "aujourd hui du de la le les des ce soir matin semaine quotidien lundi mardi mercredi jeudi "
        "vendredi samedi dimanche janvier fevrier mars avril mai juin juillet aout septembre octobre "
        "novembre decembre heute morgen abend am vom der die das fur montag dienstag mittwoch donnerstag "
        "freitag samstag sonntag januar februar marz juni juli oktober dezember hoy manana del el los "
        "las lunes martes miercoles jueves viernes sabado domingo enero febrero marzo abril mayo junio "
        "julio agosto septiembre octubre noviembre diciembre oggi di il lo gli ieri domani hoje dia do "
        "da vandaag van het",
    )
).split()
_DATING = frozenset(_DATE_WORDS)

_SEPARATOR = re.compile(r"\s+[-–—|»·]\s+")
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)

# Single words and short phrases that are the whole of a recurring title, after dating words go.
_CORE_TITLES = (
    "weather",
    "forecast",
    "weather forecast",
    "weather update",
    "weather report",
    "weather outlook",
    "crossword",
    "crossword puzzle",
    "cryptic crossword",
    "quick crossword",
    "mini crossword",
    "crossword answers",
    "sudoku",
    "wordle",
    "wordle answer",
    "wordle hint",
    "puzzle",
    "puzzles",
    "quiz",
    "news quiz",
    "jumble",
    "word search",
    "horoscope",
    "horoscopes",
    "astrology",
    "lottery",
    "lottery results",
    "lotto results",
    "powerball numbers",
    "mega millions numbers",
    "winning numbers",
    "live",
    "live updates",
    "live blog",
    "liveblog",
    "live coverage",
    "as it happened",
    "updates",
    "latest updates",
    "latest news",
    "news",
    "news headlines",
    "headlines",
    "top stories",
    "news in brief",
    "briefing",
    "news briefing",
    "morning briefing",
    "evening briefing",
    "newsletter",
    "digest",
    "roundup",
    "round up",
    "news roundup",
    "wrap",
    "day in pictures",
    "pictures",
    "photos",
    "letters",
    "letters to editor",
    "corrections",
    "corrections and clarifications",
    "obituaries",
    "traffic",
    "traffic and travel",
    "travel news",
    "tv listings",
    "whats on tv",
    "podcast",
    "market report",
    "markets",
    "stock market",
    "stocks to watch",
    "markets wrap",
    "highlights",
    "business highlights",
    "news highlights",
    "wordle answer and hints",
    "wordle hints",
    # Other languages (folded: no accents).
    "meteo",
    "previsions meteo",
    "bulletin meteo",
    "en direct",
    "direct",
    "mots croises",
    "mots fleches",
    "revue presse",
    "journal",
    "wetter",
    "wettervorhersage",
    "kreuzwortratsel",
    "ratsel",
    "horoskop",
    "liveticker",
    "live ticker",
    "ticker",
    "nachrichten",
    "nachrichten im uberblick",
    "im uberblick",
    "presseschau",
    "tiempo",
    "prevision tiempo",
    "crucigrama",
    "horoscopo",
    "en directo",
    "en vivo",
    "directo",
    "resumen noticias",
    "loteria",
    "sorteo",
    "previsioni meteo",
    "cruciverba",
    "oroscopo",
    "diretta",
    "in diretta",
    "previsao tempo",
    "palavras cruzadas",
    "ao vivo",
    "weerbericht",
    "weer",
    "kruiswoordpuzzel",
    # Chinese, Japanese, Korean: written without spaces, one token each.
    "今日の天気",
    "天気予報",
    "天気",
    "天气预报",
    "今日天气",
    "날씨",
    "오늘의 날씨",
    "クロスワード",
    "星座占い",
)


def is_recurring_title(title: str, publisher: str | None = None) -> bool:
    """Whether ``title`` is only a recurring title ("Today's weather", "Daily crossword No 1,234").

    Parts after a separator (" - ", " | ") may be a date, another recurring title or, when
    ``publisher`` (the feed's title or site) is given, the publisher's name: "Weather forecast -
    BBC News" from BBC News is recurring. Any other part is news: "Live updates - Earthquake
    hits Chile" is not recurring, nor is "Live updates: earthquake hits Chile".
    """
    parts = [p for p in _SEPARATOR.split(title) if p.strip()]
    if not parts:
        return False
    cores = [_core(part) for part in parts]
    if cores[0] not in _CORES:
        return False
    name = set(_core(publisher).split()) if publisher else set()
    return all(not core or core in _CORES or (name and set(core.split()) <= name) for core in cores[1:])


def _core(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("'", "")
    words = [w for w in _TOKEN.findall(folded) if w not in _DATING]
    return " ".join(words)


# Compared as titles are: dating words out ("the day in pictures" is "day pictures").
_CORES = frozenset(_core(title) for title in _CORE_TITLES)
