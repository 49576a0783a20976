"""``same_site``: whether a page may speak for another URL (its declared canonical URL)."""

from __future__ import annotations

import pytest

from bot.urls import same_site


@pytest.mark.parametrize(
    ("page", "claimed"),
    [
        ("https://www.bbc.co.uk/news/world-1", "https://www.bbc.co.uk/news/world-1"),
        ("https://m.bbc.co.uk/news/world-1", "https://www.bbc.co.uk/news/world-1"),
        ("http://bbc.co.uk:8080/a", "https://WWW.BBC.CO.UK./news"),  # scheme, port, case, dot
        ("https://amp.theguardian.com/a", "https://www.theguardian.com/a"),
        ("https://user.blogspot.com/p", "https://user.blogspot.com/q"),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b"),  # an address: its own host
        ("http://localhost/a", "http://localhost/b"),
        ("https://www.harbourgazette.example/a", "https://www.harbourgazette.example/b"),
        ("https://xn--bcher-kva.de/a", "https://www.bücher.de/b"),  # IDNA spellings of one name
    ],
)
def test_same_site(page: str, claimed: str) -> None:
    assert same_site(page, claimed)
    assert same_site(claimed, page)


@pytest.mark.parametrize(
    ("page", "claimed"),
    [
        ("https://evil.example.com/a", "https://www.bbc.co.uk/news/world-12345678"),
        ("https://bbc.co.uk.evil.com/a", "https://www.bbc.co.uk/news"),
        ("https://evilbbc.co.uk/a", "https://bbc.co.uk/a"),
        ("https://co.uk/a", "https://bbc.co.uk/a"),  # a public suffix is not a site's parent
        # Private suffixes: each user of a shared host is a site of its own.
        ("https://attacker.github.io/a", "https://victim.github.io/a"),
        ("https://attacker.blogspot.com/a", "https://victim.blogspot.com/a"),
        # No known suffix: only the same host.
        ("http://127.0.0.2:8000/a", "http://127.0.0.1:8000/a"),
        ("http://[::1]/a", "http://127.0.0.1/a"),
        ("http://api.localhost/a", "http://localhost/a"),
        ("https://a.harbourgazette.example/x", "https://www.harbourgazette.example/x"),
        # Not http(s) URLs at all.
        ("https://www.bbc.co.uk/a", "javascript:alert(1)"),
        ("https://www.bbc.co.uk/a", "/news/relative"),
        ("https://www.bbc.co.uk/a", ""),
    ],
)
def test_other_site(page: str, claimed: str) -> None:
    assert not same_site(page, claimed)
    assert not same_site(claimed, page)
