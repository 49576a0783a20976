"""``bot.extract._load.parse_utf8`` gives the tree trafilatura's ``load_html`` gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from trafilatura.utils import load_html

from bench.extract_quality import DEFAULT_DATA, load_pages
from bot.errors import NotAnArticleError
from bot.extract._core import extract, extract_utf8
from bot.extract._load import _needs_repair, encode, is_blank, parse_utf8

PAGES = Path(__file__).parent / "data" / "pages"
BODY = "<body><p>Some text, a <b>bold</b> word.</p></body>"


def body_with(word: str) -> str:
    return BODY.replace("word", word)


CASES = {
    "plain": f"<!DOCTYPE html>\n<html><head><title>t</title></head>{BODY}</html>",
    "control characters": "<html><head><title>t\x0b</title></head>" + body_with("wo\x00rd") + "</html>",
    "noncharacter": "<html>" + body_with("wo\ufffdrd\uffff") + "</html>",
    "xhtml doctype": (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" />\n'
        f"<html xmlns='http://www.w3.org/1999/xhtml'>{BODY}</html>"
    ),
    "doctype without line breaks": f"<!DOCTYPE html><html>{BODY}</html>",
    "self-closing html": f"<!DOCTYPE html>\n<html lang='en' />\n<head></head>{BODY}",
    "no html tag": f"<div>{BODY}</div>",
    "fragment": "<p>one</p><p>two</p>",
    "xml declaration": f"<?xml version='1.0' encoding='iso-8859-1'?>\n<html>{BODY}</html>",
    "byte order mark": f"\ufeff<html>{BODY}</html>",
    "lone surrogate": "<html>" + body_with("wo\ud800rd") + "</html>",
    "non-ascii": "<html lang='de'>" + body_with("Wörter “quoted” 漢字") + "</html>",
    "forms": (
        "<html><body><form><label>Mail <input name='mail'></label><select><option>a</option></select>"
        "<textarea>t</textarea></form><svg:path d='M0'/>&nbsp;&unknown;</body></html>"
    ),
}


def same_tree(html: str) -> None:
    ours, theirs = parse_utf8(encode(html)), load_html(html)
    if theirs is None:
        assert ours is None
    else:
        assert ours is not None
        assert etree.tostring(ours, encoding="unicode") == etree.tostring(theirs, encoding="unicode")
        # The same Python classes (HtmlElement, FormElement, ...), from our C-level lookup.
        assert [type(e) for e in ours.iter()] == [type(e) for e in theirs.iter()]


@pytest.mark.parametrize("html", CASES.values(), ids=CASES.keys())
def test_same_tree_as_trafilatura_on_edge_cases(html: str) -> None:
    same_tree(html)


def test_same_tree_as_trafilatura_on_golden_pages() -> None:
    for path in sorted(PAGES.glob("*.html")):
        same_tree(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not (DEFAULT_DATA / "ground-truth.json").is_file(), reason="benchmark data absent")
def test_same_tree_as_trafilatura_on_benchmark_pages() -> None:
    for item in load_pages(DEFAULT_DATA):
        same_tree(item.html)


@pytest.mark.parametrize(
    "name", ["control characters", "noncharacter", "lone surrogate", "xhtml doctype", "no html tag"]
)
def test_pages_needing_repair_go_through_load_html(name: str) -> None:
    html = CASES[name]
    assert _needs_repair(encode(html))


def test_clean_page_takes_the_fast_path() -> None:
    html = CASES["non-ascii"]
    assert not _needs_repair(encode(html))


@pytest.mark.parametrize("html", ["", "  \n\t", "\u3000\xa0 ", "\x1c", " \u2028"])
def test_blank_pages(html: str) -> None:
    assert is_blank(encode(html))
    for extractor, page in ((extract, html), (extract_utf8, encode(html))):
        with pytest.raises(NotAnArticleError, match="empty"):
            extractor(page)  # type: ignore[operator]


@pytest.mark.parametrize("html", ["<p>x</p>", "  <html>", "\ufeff<html>", "\u3000x", "\x1cx"])
def test_pages_that_are_not_blank(html: str) -> None:
    assert not is_blank(encode(html))
