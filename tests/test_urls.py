"""bot.urls: which text is a fetchable link, and one canonical spelling per page."""

from __future__ import annotations

import random

import pytest

from bot import urls
from bot.errors import InvalidURLError
from bot.urls import canonicalize_url, normalize_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("  https://example.com/a \n", "https://example.com/a"),
        ("<https://example.com/a>", "https://example.com/a"),  # Discord's embed-suppressing brackets
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("http://example.com:8080/x?b=2&a=1", "http://example.com:8080/x?b=2&a=1"),
        ("http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080/"),
    ],
)
def test_normalize_url(text: str, expected: str) -> None:
    assert normalize_url(text) == expected


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("", "http:// or https://"),
        ("   ", "http:// or https://"),
        ("example.com/article", "Only http:// and https://"),
        ("ftp://example.com/file", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("data:text/html,<b>x</b>", "Only http:// and https://"),
        ("gopher://example.com/", "Only http:// and https://"),
        ("http://", "no site name"),
        ("http:///path", "no site name"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http://user@example.com/", "user name or password"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/\x00", "spaces"),
        ("http://example.com:99999/", "not a valid link"),
        ("http://exa%41mple.com/", "invalid site name"),
        ("http://[::1/", "not a valid link"),
        ("https://example.com/" + "a" * 3000, "too long"),
    ],
)
def test_normalize_url_refuses(text: str, message_part: str) -> None:
    with pytest.raises(InvalidURLError) as info:
        normalize_url(text)
    assert message_part in str(info.value)
    assert isinstance(info.value, ValueError)  # callers may catch the stdlib base


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/a", "https://example.com/a"),
        ("http://example.com:80", "http://example.com/"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/a#top", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=tw&id=7&utm_medium=social&fbclid=abc&page=2",
            "https://example.com/a?id=7&page=2",
        ),
        ("https://example.com/a?gclid=1&dclid=2&msclkid=3&yclid=4", "https://example.com/a"),
        ("https://example.com/a?mc_cid=1&mc_eid=2&igshid=3&_ga=4&ref_src=twsrc", "https://example.com/a"),
        ("https://example.com/a?UTM_Campaign=x&q=News", "https://example.com/a?q=News"),
        # Other parameters keep their order, repeats and exact encoding.
        ("https://example.com/s?z=1&a=%20b&z=2&utm_term=x", "https://example.com/s?z=1&a=%20b&z=2"),
        ("https://example.com/s?flag&x=1", "https://example.com/s?flag&x=1"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
    ],
)
def test_canonicalize_url(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


def test_canonicalize_url_is_idempotent_and_merges_spellings() -> None:
    spellings = [
        "https://Example.com/story?id=1",
        "https://example.com:443/story?id=1#comments",
        "<https://example.com/story?utm_source=rss&id=1>",
        "https://example.com/story?id=1&fbclid=XYZ",
    ]
    canonical = {canonicalize_url(url) for url in spellings}
    assert canonical == {"https://example.com/story?id=1"}
    assert canonicalize_url(canonicalize_url(spellings[0])) == canonicalize_url(spellings[0])


def test_canonicalize_url_keeps_distinct_pages_apart() -> None:
    assert canonicalize_url("https://example.com/a?id=1") != canonicalize_url("https://example.com/a?id=2")
    assert canonicalize_url("http://example.com/a") != canonicalize_url("https://example.com/a")
    assert canonicalize_url("https://example.com/A") != canonicalize_url("https://example.com/a")


def test_canonicalize_url_refuses_non_links() -> None:
    with pytest.raises(InvalidURLError):
        canonicalize_url("mailto:someone@example.com")


def _general_canonical(url: str) -> str:
    """canonicalize_url with its shortcut for simple URLs turned off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(urls, "_canonical_simple", lambda url: None)
        return urls.canonicalize_url(url)


def _url_corpus(count: int) -> list[str]:
    """Seeded URLs around the shortcut's edges: hosts, ports, dot segments, odd characters."""
    rng = random.Random(20261128)
    hosts = ["example.com", "a.b.c", "x-y.org", "ex--ample.com", "xn--bcher-kva.ch", "EXAMPLE.com",
             "1.2.3.4", "a", "b\u00fccher.ch", "[::1]", "host."]  # fmt: skip
    ports = ["", ":80", ":443", ":8080", ":0", ":080", ":65535", ":65536", ":99999"]
    alphabet = "abcXYZ019-._~!$&'()*+,;=:@/?#%\u00e9 []\"<>^`{|}"
    corpus = []
    for _ in range(count):
        host, port = rng.choice(hosts), rng.choice(ports)
        path = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        scheme = rng.choice(["http", "https", "HTTP"])
        corpus += [
            f"{scheme}://{host}{port}/{path}",
            f"http://{host}{port}/a/./b/../c{path}",
            f"https://{host}/p?utm_source=x&a=1&{path}",
            f"https://{host}/p?{path}#frag{path}",
            f"https://{host}{port}/{path}/.",
        ]
    return corpus


def test_the_shortcut_for_simple_urls_agrees_with_the_general_path() -> None:
    shortcut_taken = 0
    for url in _url_corpus(3000):
        fast = urls._canonical_simple(url)
        if fast is None:
            continue
        shortcut_taken += 1
        assert fast == _general_canonical(url), url
    assert shortcut_taken > 500  # the corpus does exercise the shortcut


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/news/2026/11/28/story.html?id=7&utm_source=rss#top",
        "http://example.com:80/a/b/",
        "https://sub.example.co.uk:8443/p;x=1?q=a+b&fbclid=1",
        "https://example.com",
    ],
)
def test_typical_feed_links_take_the_shortcut(url: str) -> None:
    assert urls._canonical_simple(url) is not None
    assert canonicalize_url(url) == _general_canonical(url)


@pytest.mark.parametrize(
    ("url", "shortcut"),
    [
        ("https://example.com/.well-known/feed", True),
        ("https://example.com/a/.b/..c", True),
        ("https://example.com/a/./b", False),
        ("https://example.com/a/../b", False),
        ("https://example.com/a/..", False),
        ("https://example.com/a/.?q=1", False),
        ("https://example.com/a/..#top", False),
    ],
)
def test_dot_segments_and_only_they_leave_the_shortcut(url: str, shortcut: bool) -> None:
    assert (urls._canonical_simple(url) is not None) == shortcut
    assert canonicalize_url(url) == _general_canonical(url)


def test_a_canonical_link_comes_back_as_the_same_string() -> None:
    # So a pickle holding an entry's link and its key writes the string once.
    link = "".join(["https://example.com/", "news/1"])
    assert canonicalize_url(link) is link
    assert canonicalize_url("https://example.com/news/1#top") == "https://example.com/news/1"
    assert canonicalize_url("https://example.com") == "https://example.com/"
