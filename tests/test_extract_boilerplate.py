"""Tests of the rules that take the page's furniture out of the article's text.

Each rule has a golden page in ``tests/data/pages`` (run by ``tests/test_extract.py``); the
tests here pin what each rule must leave alone, so that it never takes article text.
"""

from __future__ import annotations

from bot.extract import extract

URL = "https://www.harbourgazette.example/news/2025/03/water-bill"
PARAGRAPHS = [
    "The regional parliament passed the water bill on Thursday after a debate that lasted nine hours. "
    "The law sets a cap on how much groundwater farms may pump during a drought.",
    "Farmers' unions said the cap would cost them a third of their harvest in dry years, "
    "while environmental groups called it the first serious attempt to protect the aquifer.",
    "The cap takes effect in June. Inspectors will read the meters of the 4,000 largest wells every month, "
    "and fines will rise with each month a farm stays above its limit.",
]


def page(body: str, head: str = "<title>Water bill passes</title>") -> str:
    return f"<!DOCTYPE html><html lang='en'><head>{head}</head><body>{body}</body></html>"


def paragraphs_html(texts: list[str] = PARAGRAPHS) -> str:
    return "".join(f"<p>{text}</p>" for text in texts)


# --- headings above the article ---------------------------------------------------------


def test_short_first_section_title_after_the_headline_is_kept() -> None:
    html = page(
        "<article><h1>Water bill passes</h1><h2>The vote</h2>"
        f"{paragraphs_html()}<h2>What comes next</h2>{paragraphs_html(PARAGRAPHS[:1])}</article>"
    )
    text = extract(html, URL).text.split("\n\n")
    assert text[:2] == ["The vote", PARAGRAPHS[0]]


def test_headline_worded_unlike_the_title_is_not_text() -> None:
    html = page(
        f"<article><h1>Nine hours of debate end in a cap on the aquifer</h1>{paragraphs_html()}</article>",
        head="<title>Water bill passes | The Harbour Gazette</title>"
        "<meta property='og:title' content='Water bill passes'>",
    )
    article = extract(html, URL)
    assert article.text.split("\n\n") == PARAGRAPHS
    assert article.title == "Water bill passes"
