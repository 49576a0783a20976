"""The fetcher: one guarded aiohttp session, redirects followed by hand, bodies capped."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Collection
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from yarl import URL

from bot.config import FetchSettings
from bot.errors import (
    BlockedAddressError,
    FetchError,
    InvalidURLError,
    TooLargeError,
    TooManyRedirectsError,
    UnsupportedContentError,
)
from bot.fetch import content, decode
from bot.fetch.addresses import IPNetwork, parse_ip
from bot.fetch.failures import client_error, size_text, status_error
from bot.fetch.limits import HostLimiter, Limit
from bot.fetch.resolver import BLOCKED_MESSAGE, AddressPolicy, GuardedResolver, guarded_connector
from bot.fetch.result import FetchResult
from bot.urls import normalize_url, parse_http_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Hosts whose verdict is remembered (forgotten all at once past this).
_JUDGED_HOSTS = 4096
_CHUNK_BYTES = 64 * 1024
_JSON_OR_XML_DEFAULT = "utf-8"  # RFC 8259 and XML 1.0: UTF-8 unless declared otherwise


@dataclass
class _Request:
    """What one fetch asked for, shared by its hops."""

    start: str
    accept: frozenset[str]
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    #: This fetch's cookies, made when a response first sets one (most fetches never do).
    jar: aiohttp.CookieJar | None = None

    def cookie_header(self, url: URL) -> str:
        if self.jar is None:
            return ""
        cookies = self.jar.filter_cookies(url).values()
        return "; ".join(f"{m.key}={m.coded_value}" for m in cookies)

    def keep_cookies(self, response: aiohttp.ClientResponse) -> None:
        if "Set-Cookie" not in response.headers:
            return
        if self.jar is None:
            self.jar = aiohttp.CookieJar(unsafe=True)
        self.jar.update_cookies(response.cookies, response.url)


class Fetcher:
    """Fetches http(s) URLs safely; one instance (and one session) per application.

    The session is made lazily, inside the running event loop, and closed by :meth:`close`.
    ``resolver`` replaces aiohttp's default DNS resolver underneath the address guard
    (tests inject a fake one). ``allowed_networks`` exempts networks from the
    private-address block when ``allow_private_networks`` is off (an intranet
    allow-list; the tests use it to reach one loopback server and no other).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        allowed_networks: Collection[IPNetwork] = (),
    ) -> None:
        self._settings = settings
        self._base_resolver = resolver
        self._policy = AddressPolicy(
            allow_private=settings.allow_private_networks, allowed_networks=allowed_networks
        )
        self._limiter = HostLimiter(
            settings.per_host_concurrency,
            {
                host: Limit(limit.concurrency or settings.per_host_concurrency, limit.min_interval_s)
                for host, limit in settings.host_limits.items()
            },
        )
        # host -> the host to connect to (an IP literal respelt), or None when it is refused.
        # The policy never changes, so each host is judged once (a poller asks the same hosts
        # over and over).
        self._judged_hosts: dict[str, str | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    @property
    def limits(self) -> HostLimiter:
        """The per-host limits every fetch goes through (the poller defers paused hosts' feeds)."""
        return self._limiter

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and the resolver; a later fetch opens new ones."""
        session, resolver = self._session, self._resolver
        self._session = self._resolver = None
        if session is not None:
            await session.close()
        if resolver is not None:
            await resolver.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            base = self._base_resolver or aiohttp.DefaultResolver()
            self._resolver = GuardedResolver(base, self._policy, owns_base=self._base_resolver is None)
            self._session = aiohttp.ClientSession(
                connector=guarded_connector(self._resolver, self._policy),
                # Each fetch keeps its own cookies (below): nothing leaks between users' fetches.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self._settings.user_agent},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._settings.connect_timeout_s),
                trust_env=False,  # a proxy would connect for us, out of the guard's sight
            )
        return self._session

    async def fetch(
        self,
        url: str,
        *,
        accept_types: Collection[str] = content.HTML_TYPES,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch ``url``, following redirects; raise a :class:`~bot.errors.FetchError` subclass on failure.

        ``accept_types`` are the media types the caller can use; others raise
        :class:`UnsupportedContentError`. ``etag``/``last_modified`` make the request
        conditional: a 304 gives a result with ``not_modified=True``.
        """
        current = parse_http_url(url)
        start = str(current)
        accept = _accept_set(accept_types)
        headers = {"Accept": content.accept_header(accept)}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        # Some sites set a cookie and redirect to themselves to check it; keep cookies for this fetch only.
        request = _Request(start, accept, headers, etag, last_modified)
        loop = asyncio.get_running_loop()
        budget = self._settings.timeout_s
        visited: set[tuple[str, str]] = set()
        for redirects in itertools.count():
            checked = self._checked_target(current, start)
            # str(URL) is rebuilt on each call: the first hop's text is ``start`` already.
            target = start if redirects == 0 and checked is current else str(checked)
            current = checked
            cookie = request.cookie_header(current)
            hop = (target, cookie)
            if hop in visited:
                raise TooManyRedirectsError("The link redirects in a loop.", url=start)
            visited.add(hop)
            hop_headers = {**headers, "Cookie": cookie} if cookie else headers
            async with self._limiter.hold(current.raw_host or ""):
                # Time spent queueing for the host is not the site's fault: only count the hop itself.
                began = loop.time()
                outcome = await self._timed_hop(request, current, target, hop_headers, budget)
                budget -= loop.time() - began
            if isinstance(outcome, FetchResult):
                return outcome
            if redirects >= self._settings.max_redirects:
                raise TooManyRedirectsError("The link redirects too many times.", url=start)
            current = outcome
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked_target(self, url: URL, start: str) -> URL:
        """Refuse a hop before any connection: local names and IP literals in any spelling."""
        host = url.raw_host or ""
        try:
            target = self._judged_hosts[host]
        except KeyError:
            target = self._judge_host(host)
            if len(self._judged_hosts) >= _JUDGED_HOSTS:
                self._judged_hosts.clear()
            self._judged_hosts[host] = target
        if target is None:
            raise BlockedAddressError(BLOCKED_MESSAGE, url=start)
        return url if target == host else url.with_host(target)

    def _judge_host(self, host: str) -> str | None:
        """The host to connect to for ``host``, or ``None`` when the policy refuses it."""
        if not self._policy.allows_host_name(host):
            return None
        address = parse_ip(host)
        if address is None:
            return host  # a name: its addresses are judged by the resolver and the connector
        if not self._policy.allows(str(address)):
            return None
        # Connect to exactly the address we judged, whatever the spelling (0x7f.1, 127.1, ...).
        return host if address.version == 6 else str(address)

    async def _timed_hop(
        self, request: _Request, url: URL, url_text: str, headers: dict[str, str], budget: float
    ) -> FetchResult | URL:
        host, start = url.host or "", request.start
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                response = await self._get_session().get(url, headers=headers, allow_redirects=False)
                try:
                    request.keep_cookies(response)
                    outcome = await self._handle(request, response, url, url_text)
                except BaseException:
                    response.close()  # drop the connection rather than read the rest of a body
                    raise
                response.release()
                return outcome
        except BlockedAddressError as e:
            if e.url is not None:
                raise
            # Raised by the resolver, which knows no URL; its error may be shared by
            # concurrent lookups of one host, so make a new one rather than edit it.
            raise BlockedAddressError(e.message, url=start) from e
        except FetchError:
            raise
        except TimeoutError as e:
            # Both our overall deadline and aiohttp's connect timeout land here.
            raise client_error(e, start, host) from e
        except aiohttp.ClientError as e:
            raise client_error(e, start, host) from e

    async def _handle(
        self, request: _Request, response: aiohttp.ClientResponse, url: URL, url_text: str
    ) -> FetchResult | URL:
        start, accept = request.start, request.accept
        # A host that asks us to slow down (429, or 503 with a Retry-After) is paused on its own;
        # a bare 503 is more often one broken path than the whole host: that feed backs off alone.
        retry_after = response.headers.get("Retry-After")
        if response.status == 429 or (response.status == 503 and retry_after is not None):
            self._limiter.refused(url.raw_host or "", retry_after)
        elif response.status < 500:
            self._limiter.answered(url.raw_host or "")
        location = response.headers.get("Location")
        if response.status in REDIRECT_STATUSES and location:
            return _redirect_target(url, location, start)
        # Read-only and the response's own: it outlives the released connection.
        headers = response.headers
        kind = content.media_type(headers.get("Content-Type"))
        if response.status == 304:
            return FetchResult(
                url=start,
                final_url=url_text,
                status=304,
                content_type=kind,
                charset=None,
                body=b"",
                headers=headers,
                etag=response.headers.get("ETag") or request.etag,
                last_modified=response.headers.get("Last-Modified") or request.last_modified,
                not_modified=True,
            )
        if not 200 <= response.status < 300:
            raise status_error(
                response.status, response.reason, start, retry_after=response.headers.get("Retry-After")
            )
        if kind is not None and kind not in accept:
            raise _unsupported(kind, accept, start)
        body = await self._read_capped(response, request)
        _refuse_disguised_binary(body, request)
        return FetchResult(
            url=start,
            final_url=url_text,
            status=response.status,
            content_type=kind,
            charset=await _charset(body, response.headers.get("Content-Type"), kind),
            body=body,
            headers=headers,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    async def _read_capped(self, response: aiohttp.ClientResponse, request: _Request) -> bytes:
        limit = self._settings.max_bytes
        # Content-Length counts compressed bytes; the loop below counts decompressed ones (zip bombs).
        if response.content_length is not None and response.content_length > limit:
            raise _too_large(request, limit)
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            if not body:
                # The first bytes can unmask a mislabelled PDF before we download all of it.
                _refuse_disguised_binary(chunk, request)
            body += chunk
            if len(body) > limit:
                raise _too_large(request, limit)
        return bytes(body)


def _too_large(request: _Request, limit: int) -> TooLargeError:
    what = content.wanted(request.accept).removeprefix("a ")
    return TooLargeError(f"The {what} is larger than the {size_text(limit)} limit.", url=request.start)


def _redirect_target(current: URL, location: str, start: str) -> URL:
    try:
        target = current.join(URL(location.strip()))
        return URL(normalize_url(str(target)), encoded=True)
    except (ValueError, InvalidURLError) as e:
        raise InvalidURLError("The link redirects to an address that cannot be fetched.", url=start) from e


def _refuse_disguised_binary(head: bytes, request: _Request) -> None:
    sniffed = content.sniff_media_type(head)
    if sniffed is not None and sniffed not in request.accept:
        raise _unsupported(sniffed, request.accept, request.start)


def _unsupported(kind: str, accept: frozenset[str], start: str) -> UnsupportedContentError:
    what = content.describe(kind)
    return UnsupportedContentError(f"This link is {what}, not {content.wanted(accept)}.", url=start)


async def _charset(body: bytes, content_type: str | None, kind: str | None) -> str:
    declared = (
        decode.charset_from_bom(body)
        or decode.charset_from_content_type(content_type)
        or decode.declared_charset(body)
    )
    if declared is not None:
        return declared
    if kind is not None and ("json" in kind or "xml" in kind):
        return _JSON_OR_XML_DEFAULT
    # Guessing is CPU work on up to 256 kB: keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, decode.guess_charset, body)


@functools.lru_cache(maxsize=32)
def _accept_frozen(accept_types: frozenset[str]) -> frozenset[str]:
    return frozenset(kind.lower() for kind in accept_types)


def _accept_set(accept_types: Collection[str]) -> frozenset[str]:
    """The accepted media types, lowercased (callers pass a few constant sets: cached)."""
    if isinstance(accept_types, frozenset):
        return _accept_frozen(accept_types)
    return frozenset(kind.lower() for kind in accept_types)
