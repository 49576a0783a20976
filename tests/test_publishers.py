"""Publisher identity (bot/publishers.py): the feeds, sections and domains of one publisher are one."""

from __future__ import annotations

import pytest

from bot.publishers import KNOWN_PUBLISHERS, publisher_key, publisher_keys


@pytest.mark.parametrize(
    "sources",
    [
        # Domains of one publisher (the table), its feed host and its sections' subdomains.
        (
            "https://www.bbc.co.uk/news",
            "bbc.com",
            "feeds.bbci.co.uk",
            "https://www.bbc.com/sport",
            "BBC News",
        ),
        ("theguardian.com", "https://www.guardian.co.uk/world", "The Guardian", "The Guardian - Politics"),
        # A site's sections on subdomains fold by the public suffix list.
        ("washington.cbslocal.com", "boston.cbslocal.com", "https://newyork.cbslocal.com/"),
        ("www.smh.com.au", "news.smh.com.au"),
        ("profit.ndtv.com", "movies.ndtv.com", "https://www.ndtv.com/world-news"),
        # Feed titles: sections, edition marks and generic words go.
        ("Reuters", "Reuters | Business", "Reuters (blog)"),
        ("DigitalJournal.com", "www.digitaljournal.com"),
    ],
)
def test_one_publisher_is_one_key(sources: tuple[str, ...]) -> None:
    assert len(set(publisher_keys(sources).values())) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("reuters.com", "apnews.com"),
        ("Fox News", "Fox Sports"),
        # Separate publishers on one platform: the public suffix list names them apart.
        ("alice.blogspot.com", "bob.blogspot.com"),
        ("alice.github.io", "bob.github.io"),
        ("alice.substack.com", "bob.substack.com"),
        # One name on two country domains is not one publisher unless the table says so.
        ("independent.co.uk", "independent.ie"),
        ("abc.net.au", "abc.com"),
    ],
)
def test_different_publishers_stay_apart(a: str, b: str) -> None:
    assert publisher_key(a) != publisher_key(b)
    assert len(set(publisher_keys([a, b]).values())) == 2


def test_a_title_joins_the_one_host_it_names() -> None:
    keys = publisher_keys(["Reuters India", "in.reuters.com", "Le Monde", "lemonde.fr", "CNET", "cnet.com"])
    assert keys["Reuters India"] == keys["in.reuters.com"] == "reuters"
    assert keys["Le Monde"] == keys["lemonde.fr"] == "lemonde.fr"
    assert keys["CNET"] == keys["cnet.com"]
    # "The Times" could be thetimes.co.uk or nytimes.com: neither, when both are there.
    both = publisher_keys(["The Times", "thetimes.co.uk", "times.co.uk"])
    assert both["The Times"] not in (both["thetimes.co.uk"], both["times.co.uk"])
    # A short host name does not swallow longer titles that start with it.
    assert len(set(publisher_keys(["ABC Radio", "abc.com"]).values())) == 2


def test_hosts_without_a_known_suffix_and_addresses_are_their_own() -> None:
    assert publisher_key("https://alpha-news.example/") == "alpha-news.example"
    assert publisher_key("feeds.beta.example") == "beta.example"
    assert publisher_key("http://127.0.0.1:8080/feed") == "127.0.0.1"
    assert publisher_key("http://127.0.0.2/feed") != publisher_key("http://127.0.0.1/feed")


def test_the_table_names_each_domain_once() -> None:
    domains = [d for ds, _ in KNOWN_PUBLISHERS.values() for d in ds]
    assert len(domains) == len(set(domains))
    for name, (ds, _) in KNOWN_PUBLISHERS.items():
        assert {publisher_key(d) for d in ds} == {name}
        assert publisher_key(name) == name
