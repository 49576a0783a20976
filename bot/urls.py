"""Parsing user-supplied links and reducing them to a canonical form.

:func:`normalize_url` decides whether text is a link we would fetch at all
(syntax only; the fetcher decides about addresses). :func:`canonicalize_url`
maps the many spellings of one page to one key, for caches and deduplication.
:func:`same_site` says whether a page may speak for another URL (its declared canonical).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import unquote_plus

import tld
from yarl import URL

from bot.errors import InvalidURLError

MAX_URL_LENGTH = 2048
_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")

# Parameters that only say where a click came from; the page is the same without them.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc",
        "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "wickedid",
        "ref_src", "ref_url", "s_cid", "ocid", "cmpid", "ncid", "sr_share", "spm", "__twitter_impression",
        "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


def normalize_url(text: str) -> str:
    """The http(s) URL in ``text``: trimmed, host IDNA-encoded, fragment dropped.

    Raises :class:`InvalidURLError` with a message fit for the user.
    """
    return str(parse_http_url(text))


@functools.lru_cache(maxsize=16_384)
def parse_http_url(text: str) -> URL:
    """:func:`normalize_url`, as a parsed :class:`yarl.URL` (for callers that need both).

    Cached: the poller fetches the same feed URLs pass after pass (URLs are immutable, and a
    refused link raises every time).
    """
    candidate = text.strip()
    # Discord users wrap links in <...> to suppress the embed.
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1].strip()
    if not candidate:
        raise InvalidURLError("Please give a link starting with http:// or https://.", url=text)
    if len(candidate) > MAX_URL_LENGTH:
        raise InvalidURLError("That link is too long.", url=text[:MAX_URL_LENGTH])
    if _CONTROL_OR_SPACE.search(candidate):
        raise InvalidURLError("That is not a valid link: it contains spaces.", url=text)
    try:
        url = URL(candidate)
        host = url.raw_host
        port = url.port
    except (ValueError, TypeError, UnicodeError) as e:
        raise InvalidURLError("That is not a valid link.", url=text) from e
    if url.scheme.lower() not in _SCHEMES:
        raise InvalidURLError("Only http:// and https:// links are supported.", url=text)
    if not host or not url.absolute:
        raise InvalidURLError("That link has no site name in it.", url=text)
    if url.raw_user is not None or url.raw_password is not None:
        raise InvalidURLError("Links with a user name or password in them are not supported.", url=text)
    if port is not None and not 0 < port < 65536:
        raise InvalidURLError("That link has an invalid port number.", url=text)
    # A '%' is only meaningful in an IPv6 zone id; elsewhere it is an encoding trick.
    if ("%" in host and ":" not in host) or any(c in host for c in "\\/@"):
        raise InvalidURLError("That link has an invalid site name.", url=text)
    return url.with_fragment(None) if url.raw_fragment else url


def canonicalize_url(url: str) -> str:
    """One spelling per page: lowercase scheme and host, no default port, fragment or tracking params.

    Other query parameters keep their order and their exact encoding.
    """
    simple = _canonical_simple(url)
    if simple is not None:
        return simple
    parsed = parse_http_url(url)
    scheme = parsed.scheme.lower()
    host = (parsed.raw_host or "").lower().rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    port = parsed.explicit_port
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    pairs = [pair for pair in parsed.raw_query_string.split("&") if pair and not _is_tracking(pair)]
    query = "?" + "&".join(pairs) if pairs else ""
    return f"{scheme}://{netloc}{parsed.raw_path or '/'}{query}"


# The common case, canonicalised without building a URL object (the poller keys every entry
# of every changed feed): lowercase scheme and host name, a port without leading zero, and a
# path and query made only of characters that yarl keeps as they are, with no dot segment.
# Anything else takes the general path. tests/test_urls.py checks both agree.
_SIMPLE_URL = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?"
    r"(?P<path>/[A-Za-z0-9_.~!$&'()*+,;=:@/-]*)?"
    r"(?:\?(?P<query>[A-Za-z0-9_.~!$'()*+,;=:@/?&-]*))?"
    r"(?:#[\x21-\x7e]*)?",
    re.ASCII,
)


# Checked on the path apart, and only when it has a "/.": a look-ahead in _SIMPLE_URL would
# scan every path twice.
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")


def _canonical_simple(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return None
    match = _SIMPLE_URL.fullmatch(url)
    if match is None:
        return None
    scheme, host, port, path, query = match.groups()
    if path and "/." in path and _DOT_SEGMENT.search(path):
        return None  # "/./" and "/../" are resolved by yarl
    if "--" in host and (host.startswith("xn--") or ".xn--" in host or "--" in host[2:4]):
        return None  # IDNA labels: let yarl judge them
    if path and port is None and query is None and "#" not in url:
        # Canonical already: the same string, so a pickle holding both writes it once.
        return url
    netloc = host
    if port is not None:
        number = int(port)
        if number > 65535:
            return None
        if number != _DEFAULT_PORTS[scheme]:
            netloc = f"{host}:{number}"
    if not query:
        return f"{scheme}://{netloc}{path or '/'}"
    pairs = [pair for pair in query.split("&") if pair and not _is_tracking(pair)]
    kept = "?" + "&".join(pairs) if pairs else ""
    return f"{scheme}://{netloc}{path or '/'}{kept}"


def _is_tracking(raw_pair: str) -> bool:
    key = unquote_plus(raw_pair.partition("=")[0]).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def same_site(url: str, other: str) -> bool:
    """Whether ``url`` and ``other`` are on one site: the same registrable domain.

    The registrable domain comes from the public suffix list (``news.bbc.co.uk`` and
    ``www.bbc.co.uk`` are one site; ``a.github.io`` and ``b.github.io`` are two). An IP
    address, ``localhost`` or a name without a known suffix is a site of its own host.
    Schemes and ports are not compared. Anything not an http(s) URL is on no site.
    """
    try:
        host, other_host = _host(url), _host(other)
    except InvalidURLError:
        return False
    if host == other_host:
        return True
    domain, other_domain = _registrable_domain(host), _registrable_domain(other_host)
    return domain is not None and domain == other_domain


def _host(url: str) -> str:
    return (parse_http_url(url).raw_host or "").lower().rstrip(".")


@functools.lru_cache(maxsize=4096)
def _registrable_domain(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None  # an address is its own site; tld would not know it anyway
    domain = tld.get_fld(host, fix_protocol=True, fail_silently=True)
    return domain.lower() if isinstance(domain, str) else None
