"""``bot.extract._author.extract_author`` finds what trafilatura's ``extract_author`` finds.

Ours is a one-pass rewrite for speed; trafilatura's own function is the reference,
on hand-made edge cases, the golden pages and (when present) the 98 benchmark pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from trafilatura.metadata import extract_author as trafilatura_extract_author
from trafilatura.utils import load_html

from bench.extract_quality import DEFAULT_DATA, load_pages
from bot.extract._author import extract_author

PAGES = Path(__file__).parent / "data" / "pages"

CASES = {
    "specific rule": "<p class='author'>Jane Doe</p>",
    "rules in order": "<span class='byline'>By John Roe</span><a rel='author'>Jane Doe</a>",
    "document order within a rule": (
        "<div class='author-name'>Jane Doe</div><span class='authorName'>X Y</span>"
    ),
    "too short, next one": "<span class='author'>JD</span><span class='author'>Jane Doe</span>",
    "too long, next rule": (
        f"<span class='author'>{'word ' * 30}</span><div data-component='Byline'>Jane Doe</div>"
    ),
    "inside a comment block": (
        "<div id='comments'><span class='author'>Troll</span></div><p class='writer'>Jane Doe</p>"
    ),
    "inside a sidebar": (
        "<div class='sidebar x'><a rel='author'>Other Person</a></div><span itemprop='author'>Jane Doe</span>"
    ),
    "date inside": "<div class='author'>Jane <time>today</time>Doe</div>",
    "date inside, tails joined": (
        "<span class='byline'>Jane<time>4 March</time>Doe<figure>x</figure> and<i>Roe</i></span>"
    ),
    "nested discarded blocks": (
        "<p class='author'>Jane <span class='date'>1<time>2</time>3</span><span class='print'>p</span>Doe</p>"
    ),
    "author element": "<author>Jane Doe</author>",
    "id rules": "<div id='post-Author-box'>Jane Doe</div>",
    "discarded id prefix": (
        "<div id='comments-2'><p class='author'>Troll</p></div><p class='author'>Jane Doe</p>"
    ),
    "chinese site": "<span class='zuozhe'>Zhang San</span>",
    "none": "<p>No author here.</p>",
}


def page(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_same_author_as_trafilatura_on_edge_cases(body: str) -> None:
    html = page(body)
    assert extract_author(load_html(html)) == trafilatura_extract_author(load_html(html))


def test_same_author_as_trafilatura_on_golden_pages() -> None:
    for path in sorted(PAGES.glob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert extract_author(load_html(html)) == trafilatura_extract_author(load_html(html)), path.name


@pytest.mark.skipif(not (DEFAULT_DATA / "ground-truth.json").is_file(), reason="benchmark data absent")
def test_same_author_as_trafilatura_on_benchmark_pages() -> None:
    found = 0
    for item in load_pages(DEFAULT_DATA):
        ours, theirs = extract_author(load_html(item.html)), trafilatura_extract_author(load_html(item.html))
        assert ours == theirs, item.id
        found += ours is not None
    assert found > 50
