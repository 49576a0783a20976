"""Publisher identity: which sources are one publisher, for counting distinct voices in alerts.

:func:`publisher_key` turns a source (a feed's site host, or its title when it has no site, as
:func:`bot.outlets.outlet_name` gives it) into a key that is the same for every feed, section and
domain of one publisher:

* hosts fold to their registrable domain by the public suffix list (``news.bbc.co.uk`` and
  ``www.bbc.co.uk`` are ``bbc.co.uk``; ``a.blogspot.com`` and ``b.blogspot.com`` stay two);
* publishers known to spread over several registrable domains (bbc.co.uk, bbc.com and the
  feeds' bbci.co.uk) fold to one name by the small table :data:`KNOWN_PUBLISHERS`;
* titles lose their section ("BBC News - World"), edition marks ("(blog)") and generic words.

:func:`publisher_keys` also joins, within one set of sources, a title with the host it names
("Reuters" and reuters.com; "The Guardian" and theguardian.com), since a feed without a site
link is named by its title.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterable

import tld

from bot.outlets import host_of

__all__ = ["KNOWN_PUBLISHERS", "publisher_key", "publisher_keys"]

#: Publishers whose feeds live on several registrable domains, and the names their feeds go by.
#: Only publishers whose domains are one newsroom belong here (not a group's separate titles).
KNOWN_PUBLISHERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bbc": (("bbc.co.uk", "bbc.com", "bbci.co.uk", "bbc.in"), ("bbc", "bbc world service", "bbc sport")),
    "guardian": (("theguardian.com", "guardian.co.uk", "gu.com"), ("guardian", "guardian us")),
    "reuters": (("reuters.com", "reuters.co.uk", "reut.rs", "thomsonreuters.com"), ("reuters",)),
    "associated press": (("apnews.com", "ap.org"), ("associated press", "ap", "ap top")),
    "cnn": (("cnn.com", "cnn.it"), ("cnn", "cnn international", "cnnmoney")),
    "new york times": (("nytimes.com", "nyti.ms"), ("new york times", "nyt")),
    "wall street journal": (("wsj.com", "wsj.net", "on.wsj.com"), ("wall street journal", "wsj")),
    "washington post": (("washingtonpost.com", "wapo.st"), ("washington post",)),
    "al jazeera": (("aljazeera.com", "aljazeera.net"), ("al jazeera", "al jazeera english")),
    "deutsche welle": (("dw.com", "dw.de"), ("deutsche welle", "dw")),
    "nhk": (("nhk.or.jp", "nhk.jp"), ("nhk", "nhk world", "nhk world japan")),
    "npr": (("npr.org", "n.pr"), ("npr",)),
    "euronews": (("euronews.com", "euronews.net"), ("euronews",)),
    "france 24": (("france24.com",), ("france 24", "france24")),
    "afp": (("afp.com",), ("afp", "agence france-presse", "agence france presse")),
    "bloomberg": (("bloomberg.com", "bloom.bg"), ("bloomberg", "bloomberg news")),
    "financial times": (("ft.com",), ("financial times", "ft")),
    "economist": (("economist.com", "econ.st"), ("economist",)),
    "cnbc": (("cnbc.com", "cnb.cx"), ("cnbc",)),
    "fox news": (("foxnews.com", "fxn.ws"), ("fox news",)),
    "cbs news": (("cbsnews.com", "cbsn.ws"), ("cbs news",)),
    "nbc news": (("nbcnews.com", "nbcnews.to"), ("nbc news",)),
    "usa today": (("usatoday.com", "usat.ly"), ("usa today",)),
    "los angeles times": (("latimes.com", "lat.ms"), ("los angeles times", "la times")),
    "daily mail": (("dailymail.co.uk", "dailym.ai"), ("daily mail", "mail online", "mailonline")),
    "forbes": (("forbes.com", "onforb.es"), ("forbes",)),
    "techcrunch": (("techcrunch.com", "tcrn.ch"), ("techcrunch",)),
    "xinhua": (("xinhuanet.com", "news.cn"), ("xinhua", "xinhua news agency")),
    "yonhap": (("yna.co.kr", "yonhapnews.co.kr"), ("yonhap", "yonhap news agency")),
    "tass": (("tass.com", "tass.ru"), ("tass",)),
}

#: Hosting platforms whose subdomains are separate publishers, beyond the public suffix list.
_PLATFORMS = frozenset(("substack.com", "wordpress.com", "tumblr.com", "typepad.com", "ghost.io"))
_HOST_PREFIXES = ("www.", "www2.", "m.", "amp.", "feeds.", "feed.", "rss.")
# A section or feed of a publisher, not another publisher: "BBC News - World", "Reuters | Business".
_SECTION = re.compile(r"\s+[-–—|:»·]\s+.*$")
_PARENS = re.compile(r"\s*[(\[][^)\]]*[)\]]")
_GENERIC = frozenset(("the", "news", "online", "com", "blog", "blogs", "live", "latest", "feed", "rss"))
_WORD = re.compile(r"[a-z0-9&+']+")

_BY_DOMAIN = {d: name for name, (domains, _) in KNOWN_PUBLISHERS.items() for d in domains}
_BY_NAME = {n: name for name, (_, names) in KNOWN_PUBLISHERS.items() for n in (*names, name)}


def publisher_key(source: str) -> str:
    """The publisher of one source: a known publisher's name, a registrable domain, or a folded title.

    Keys of hosts contain a dot; keys of titles do not (see :func:`publisher_keys`).
    """
    text = source.strip()
    host = host_of(text)
    if host is not None:
        return _host_key(host)
    return _name_key(text)


def publisher_keys(sources: Iterable[str]) -> dict[str, str]:
    """Each source's publisher key, titles joined with the one host among ``sources`` they name.

    "Reuters" and "reuters.com" give one key when both are there, as do "Reuters India" and
    "in.reuters.com". A title that could name two of the hosts is left alone.
    """
    keys = {s: publisher_key(s) for s in dict.fromkeys(sources) if s.strip()}
    # Hosts, and known publishers (whose keys are names): what a title may turn out to name.
    hosts = {k for k in keys.values() if "." in k or k in KNOWN_PUBLISHERS}
    labels = {h: _label_variants(h) for h in hosts}
    joined: dict[str, str] = {}
    for key in set(keys.values()) - hosts:
        names = _name_variants(key)
        matches = {h for h, variants in labels.items() if _names_match(names, variants)}
        if len(matches) == 1:
            joined[key] = matches.pop()
    return {s: joined.get(k, k) for s, k in keys.items()}


# --- hosts -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _host_key(host: str) -> str:
    host = host.casefold().rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    domain = tld.get_fld(host, fix_protocol=True, fail_silently=True)
    if not isinstance(domain, str):
        # Not under a known suffix (a test name, an intranet host): the host less its usual prefixes.
        for prefix in _HOST_PREFIXES:
            if host.startswith(prefix) and host.count(".") >= 2:
                host = host[len(prefix) :]
        return host
    domain = domain.lower()
    if domain in _PLATFORMS and host != domain:
        sub = host[: -len(domain) - 1].split(".")[-1]
        if sub not in ("www", "feeds", "rss"):
            return f"{sub}.{domain}"
    return _BY_DOMAIN.get(domain, domain)


def _label_variants(host_key: str) -> set[str]:
    """The names a host may go by: "theguardian.com" -> {"theguardian", "guardian"}."""
    if host_key in KNOWN_PUBLISHERS:
        out = {"".join(host_key.split())}
        for domain in KNOWN_PUBLISHERS[host_key][0]:
            out |= _label_variants(domain)
        return out
    label = host_key.split(".")[0]
    out = {label}
    if label.startswith("the") and len(label) > 6:
        out.add(label[3:])
    return out


# --- titles ----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=8192)
def _name_key(text: str) -> str:
    folded = _PARENS.sub("", _SECTION.sub("", _fold(text).replace("\\", "")))
    words = _WORD.findall(folded)
    core = [w for w in words if w not in _GENERIC]
    joined = " ".join(words)
    for candidate in (joined, " ".join(core)):
        if candidate in _BY_NAME:
            return _BY_NAME[candidate]
    return " ".join(core or words) or text.casefold()


def _name_variants(name_key: str) -> set[str]:
    words = name_key.split()
    return {"".join(words), "".join(w for w in words if w not in _GENERIC)} - {""}


def _names_match(names: set[str], labels: set[str]) -> bool:
    if names & labels:
        return True
    # "reutersindia" names reuters.com: a title that starts with the host's name, if long enough
    # not to be a common word's prefix.
    return any(n.startswith(label) for n in names for label in labels if len(label) >= 5)
