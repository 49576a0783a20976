"""The fetcher against real aiohttp servers on 127.0.0.1.

These tests set ``allow_private_networks = true`` (the servers are on loopback);
tests/test_ssrf.py covers the default, guarded configuration.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import brotli
import pytest
from aiohttp import web

from bot.config import FetchSettings
from bot.errors import (
    ConnectError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    TooLargeError,
    TooManyRedirectsError,
    UnsupportedContentError,
)
from bot.fetch import FEED_TYPES, HTML_TYPES, Fetcher, FetchResult
from tests.loopback import StaticResolver, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE = "<!doctype html><html><head><title>Hello</title></head><body><p>Héllo wörld — news</p></body></html>"


def settings(**overrides: Any) -> FetchSettings:
    return FetchSettings(allow_private_networks=True, **overrides)


@asynccontextmanager
async def site(routes: dict[str, Handler], host: str = "127.0.0.1") -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    async with serve(app, host) as base:
        yield base


async def fetch_one(routes: dict[str, Handler], path: str = "/", **kwargs: Any) -> FetchResult:
    fetch_settings = kwargs.pop("fetch_settings", settings())
    async with site(routes) as base, Fetcher(fetch_settings) as fetcher:
        return await fetcher.fetch(base + path, **kwargs)


def html(body: str | bytes, content_type: str = "text/html; charset=utf-8", **headers: str) -> Handler:
    raw = body.encode() if isinstance(body, str) else body

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=raw, headers={"Content-Type": content_type, **headers})

    return handler


# --- pages, encodings, charsets -------------------------------------------------


async def test_fetches_a_page() -> None:
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.Response(text=PAGE, content_type="text/html", headers={"X-Thing": "1"})

    result = await fetch_one(
        {"/article": handler}, "/article#frag", fetch_settings=settings(user_agent="nd-test/1")
    )
    assert result.status == 200
    assert result.text() == PAGE
    assert (result.content_type, result.charset) == ("text/html", "utf-8")
    assert result.url == result.final_url and result.url.endswith("/article")
    assert result.headers["x-thing"] == "1"  # case-insensitive
    with pytest.raises(TypeError):
        result.headers["x-thing"] = "2"  # type: ignore[index]  # a frozen copy
    assert not result.not_modified
    assert seen["User-Agent"] == "nd-test/1"
    assert "text/html" in seen["Accept"]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
    ],
)
async def test_decompresses(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    accepted: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        accepted.append(request.headers.get("Accept-Encoding", ""))
        body = compress(PAGE.encode() * 50)
        return web.Response(
            body=body, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": encoding}
        )

    result = await fetch_one({"/": handler})
    assert result.text() == PAGE * 50
    assert encoding in accepted[0]


RUSSIAN = "Правительство объявило о новых мерах поддержки малого бизнеса. Эксперты считают, что это поможет."
FRENCH = "Le café crème coûte très cher à Noël ; déjà, la façade de l'hôtel a été rénovée."


@pytest.mark.parametrize(
    ("raw", "content_type", "charset", "text"),
    [
        # The HTTP header wins over the document.
        (
            f'<meta charset="utf-8"><p>{RUSSIAN}</p>'.encode("cp1251"),
            "text/html; charset=windows-1251",
            "cp1251",
            f'<meta charset="utf-8"><p>{RUSSIAN}</p>',
        ),
        # Then <meta charset>...
        (
            f'<html><head><meta charset="windows-1251"></head><body>{RUSSIAN}</body></html>'.encode("cp1251"),
            "text/html",
            "cp1251",
            f'<html><head><meta charset="windows-1251"></head><body>{RUSSIAN}</body></html>',
        ),
        # ...or the http-equiv form, with latin-1 read as windows-1252 like browsers do.
        (
            f'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>{FRENCH}</p>'.encode(
                "latin-1"
            ),
            "text/html",
            "cp1252",
            f'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>{FRENCH}</p>',
        ),
        # Then a guess, for pages that declare nothing.
        (
            f"<html><body><h1>Новости</h1><p>{RUSSIAN} {RUSSIAN}</p></body></html>".encode("cp1251"),
            "text/html",
            "cp1251",
            f"<html><body><h1>Новости</h1><p>{RUSSIAN} {RUSSIAN}</p></body></html>",
        ),
        (PAGE.encode(), "text/html", "utf-8", PAGE),
        # A byte-order mark beats everything.
        (b"\xef\xbb\xbf" + PAGE.encode(), "text/html; charset=iso-8859-1", "utf-8", PAGE),
    ],
    ids=["header-wins", "meta", "http-equiv-latin1", "guess-cp1251", "guess-utf8", "bom-wins"],
)
async def test_charset(raw: bytes, content_type: str, charset: str, text: str) -> None:
    result = await fetch_one({"/": html(raw, content_type)})
    assert result.charset == charset
    assert result.text() == text


async def test_feed_with_xml_declaration() -> None:
    rss = (
        f'<?xml version="1.0" encoding="windows-1251"?><rss><channel><title>{RUSSIAN}</title></channel></rss>'
    )
    result = await fetch_one(
        {"/feed": html(rss.encode("cp1251"), "application/rss+xml")}, "/feed", accept_types=FEED_TYPES
    )
    assert result.content_type == "application/rss+xml"
    assert result.charset == "cp1251"
    assert result.text() == rss


# --- size and time limits ---------------------------------------------------------


def endless(declared_length: int | None, sent: list[int], done: asyncio.Event) -> Handler:
    """Streams 64 kB chunks until the client hangs up; records how much it managed to send."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        if declared_length is not None:
            response.content_length = declared_length
        await response.prepare(request)
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
        try:
            while sent[0] < 2_000_000_000:
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client went away: what we want
        finally:
            done.set()
        return response

    return handler


@pytest.mark.parametrize("declared_length", [1_000_000_000, None], ids=["content-length", "chunked"])
async def test_too_large_stops_early(declared_length: int | None) -> None:
    sent, done = [0], asyncio.Event()
    async with site({"/": endless(declared_length, sent, done)}) as base:
        async with Fetcher(settings(max_bytes=200_000)) as fetcher:
            began = time.monotonic()
            with pytest.raises(TooLargeError) as info:
                await fetcher.fetch(base)
            elapsed = time.monotonic() - began
        await asyncio.wait_for(done.wait(), 5)  # the server saw the hang-up
    assert "200 kB" in str(info.value)
    assert elapsed < 2
    # Socket buffers absorb a few MB at most; the server never got near the 1 GB it offered.
    assert sent[0] < 50_000_000


async def test_body_exactly_at_the_limit_is_fine() -> None:
    body = b"a" * 1000
    result = await fetch_one({"/": html(body, "text/html")}, fetch_settings=settings(max_bytes=1000))
    assert result.body == body
    with pytest.raises(TooLargeError):
        await fetch_one({"/": html(body + b"a", "text/html")}, fetch_settings=settings(max_bytes=1000))


async def test_compressed_bomb_is_capped_on_decompressed_size() -> None:
    bomb = gzip.compress(b"<p>" + b"0" * 20_000_000)  # ~20 kB on the wire
    handler = html(bomb, "text/html", **{"Content-Encoding": "gzip"})
    with pytest.raises(TooLargeError):
        await fetch_one({"/": handler}, fetch_settings=settings(max_bytes=1_000_000))


async def test_slow_server_times_out() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="late")

    began = time.monotonic()
    with pytest.raises(FetchTimeoutError) as info:
        await fetch_one({"/": slow}, fetch_settings=settings(timeout_s=0.5))
    assert 0.4 < time.monotonic() - began < 1.5
    assert "too long" in str(info.value)
    assert isinstance(info.value, TimeoutError)


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full accept queue")
async def test_connect_timeout() -> None:
    # A listener that never accepts, its queue already full: the kernel drops further SYNs,
    # so the connection hangs exactly like a firewalled host, without leaving this machine.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            await asyncio.sleep(0.05)
            async with Fetcher(settings(connect_timeout_s=0.3, timeout_s=5)) as fetcher:
                began = time.monotonic()
                with pytest.raises(FetchTimeoutError) as info:
                    await fetcher.fetch(f"http://127.0.0.1:{port}/")
                elapsed = time.monotonic() - began
        finally:
            for filler in fillers:
                filler.close()
    assert str(info.value) == "The site took too long to accept the connection."
    assert 0.25 < elapsed < 1.5


async def test_trickling_body_times_out() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        with suppress(ConnectionResetError):  # until the client gives up, which is the point
            for _ in range(100):
                await response.write(b"<p>.</p>")
                await asyncio.sleep(0.05)
        return response

    began = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        await fetch_one({"/": trickle}, fetch_settings=settings(timeout_s=0.6))
    assert time.monotonic() - began < 1.5


async def test_timeout_covers_the_whole_redirect_chain() -> None:
    async def slow_redirect(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        raise web.HTTPFound(f"/hop?n={int(request.query.get('n', 0)) + 1}")

    began = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        await fetch_one(
            {"/hop": slow_redirect}, "/hop", fetch_settings=settings(timeout_s=0.8, max_redirects=10)
        )
    assert time.monotonic() - began < 1.5


# --- redirects ----------------------------------------------------------------------


def redirect(location: str, status: int = 302, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location, **headers})

    return handler


async def test_follows_redirects() -> None:
    routes = {
        "/old": redirect("/older", 301),
        "/older": redirect("newest", 308),  # relative to /older
        "/newest": redirect("/final?x=1", 303),
        "/final": html(PAGE),
    }
    result = await fetch_one(routes, "/old", fetch_settings=settings(max_redirects=3))
    assert result.url.endswith("/old")
    assert result.final_url.endswith("/final?x=1")
    assert result.text() == PAGE


async def test_redirect_limit() -> None:
    routes = {"/a": redirect("/b"), "/b": redirect("/c"), "/c": redirect("/d"), "/d": html(PAGE)}
    with pytest.raises(TooManyRedirectsError) as info:
        await fetch_one(routes, "/a", fetch_settings=settings(max_redirects=2))
    assert "too many" in str(info.value)
    with pytest.raises(TooManyRedirectsError):
        await fetch_one(routes, "/a", fetch_settings=settings(max_redirects=0))


async def test_redirect_loop() -> None:
    routes = {"/a": redirect("/b"), "/b": redirect("/a")}
    with pytest.raises(TooManyRedirectsError) as info:
        await fetch_one(routes, "/a", fetch_settings=settings(max_redirects=20))
    assert "loop" in str(info.value)


async def test_cookie_check_redirect_is_not_a_loop() -> None:
    """Sites that set a cookie and redirect to themselves work; the cookie stays in this fetch."""

    async def gate(request: web.Request) -> web.Response:
        if request.cookies.get("consent") == "yes":
            return web.Response(text=PAGE, content_type="text/html")
        response = web.Response(status=302, headers={"Location": "/gate"})
        response.set_cookie("consent", "yes")
        return response

    async with site({"/gate": gate}) as base, Fetcher(settings()) as fetcher:
        assert (await fetcher.fetch(base + "/gate")).text() == PAGE
        assert (await fetcher.fetch(base + "/gate")).final_url.endswith("/gate")


async def test_redirect_to_another_scheme_is_refused() -> None:
    with pytest.raises(InvalidURLError):
        await fetch_one({"/": redirect("file:///etc/passwd")})


# --- statuses and content types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "The site answered 404 Not Found."), (500, "The site answered 500 Internal Server Error."),
     (403, "The site answered 403 Forbidden."), (429, "The site answered 429 Too Many Requests.")],
)  # fmt: skip
async def test_error_status(status: int, message: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text="nope", content_type="text/html")

    with pytest.raises(HTTPStatusError) as info:
        await fetch_one({"/": handler})
    assert info.value.status == status
    assert str(info.value) == message


@pytest.mark.parametrize(
    "retry_after", ["999999999999", "\u00b2", "1e400", "nan", "Fri, 31 Dec 9999 23:59:59 GMT"]
)
async def test_a_refusal_with_an_absurd_retry_after_is_a_plain_status_error(retry_after: str) -> None:
    """A hostile Retry-After must not escape as an OverflowError/ValueError (a traceback per check)."""

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(status=429, text="slow down", content_type="text/html")
        response.headers["Retry-After"] = retry_after.encode("utf-8").decode("latin-1")
        return response

    with pytest.raises(HTTPStatusError) as info:
        await fetch_one({"/": handler})
    assert info.value.status == 429


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/pdf", b"%PDF-1.7 ...", "This link is a PDF document, not a web page."),
        ("image/png", b"\x89PNG\r\n\x1a\n....", "This link is an image, not a web page."),
        ("image/jpeg; charset=binary", b"\xff\xd8\xff....", "This link is an image, not a web page."),
        ("video/mp4", b"....", "This link is a video, not a web page."),
        ("application/zip", b"PK\x03\x04", "This link is a ZIP archive, not a web page."),
        # Mislabelled or unlabelled binaries are recognised by their first bytes.
        ("text/html", b"%PDF-1.4 binary", "This link is a PDF document, not a web page."),
        ("", b"\x89PNG\r\n\x1a\n....", "This link is an image, not a web page."),
    ],
)
async def test_unsupported_content(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(UnsupportedContentError) as info:
        await fetch_one({"/": html(body, content_type)})
    assert str(info.value) == message


async def test_mislabelled_pdf_is_refused_without_downloading_it() -> None:
    sent, done = [0], asyncio.Event()

    async def big_pdf(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            await response.write(b"%PDF-1.7\n")
            for _ in range(1000):  # 64 MB, if anyone read it all
                await response.write(b"\0" * 65536)
                sent[0] += 65536
        except (ConnectionError, RuntimeError):
            pass
        finally:
            done.set()
        return response

    async with site({"/": big_pdf}) as base, Fetcher(settings(max_bytes=100_000_000)) as fetcher:
        with pytest.raises(UnsupportedContentError, match=r"PDF document"):
            await fetcher.fetch(base)
        await asyncio.wait_for(done.wait(), 5)
    assert sent[0] < 30_000_000


async def test_caller_chooses_the_accepted_types() -> None:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    routes = {
        "/feed": html(rss, "application/rss+xml"),
        "/page": html(PAGE),
        "/json": html(b"{}", "application/json"),
    }
    async with site(routes) as base, Fetcher(settings()) as fetcher:
        assert (await fetcher.fetch(base + "/feed", accept_types=FEED_TYPES)).body == rss
        assert (await fetcher.fetch(base + "/json", accept_types=FEED_TYPES)).charset == "utf-8"
        with pytest.raises(UnsupportedContentError, match=r"This link is a feed, not a web page\."):
            await fetcher.fetch(base + "/feed")
        with pytest.raises(UnsupportedContentError, match=r"This link is a web page, not a feed\."):
            await fetcher.fetch(base + "/page", accept_types=FEED_TYPES)
        both = await fetcher.fetch(base + "/page", accept_types=HTML_TYPES | FEED_TYPES)
        assert both.content_type == "text/html"


async def test_page_without_content_type_is_accepted() -> None:
    seen_types: list[str | None] = []

    async def strip_type(request: web.Request, response: web.StreamResponse) -> None:
        # aiohttp labels untyped bodies application/octet-stream; send none at all.
        response.headers.popall("Content-Type", None)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=PAGE.encode())

    app = web.Application()
    app.router.add_get("/", handler)
    app.on_response_prepare.append(strip_type)
    async with serve(app) as base, Fetcher(settings()) as fetcher:
        result = await fetcher.fetch(base)
        seen_types.append(result.headers.get("Content-Type"))
    assert seen_types == [None]
    assert result.content_type is None
    assert result.text() == PAGE


# --- conditional GET ---------------------------------------------------------------


async def test_conditional_get() -> None:
    async def feed(request: web.Request) -> web.Response:
        headers = {"ETag": '"v2"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
        if (
            request.headers.get("If-None-Match") == '"v2"'
            or request.headers.get("If-Modified-Since") == (headers["Last-Modified"])
        ):
            return web.Response(status=304, headers={"ETag": '"v2"'})
        return web.Response(body=b"<rss/>", headers={"Content-Type": "application/rss+xml", **headers})

    async with site({"/feed": feed}) as base, Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(base + "/feed", accept_types=FEED_TYPES)
        assert (first.status, first.not_modified, first.body) == (200, False, b"<rss/>")
        assert (first.etag, first.last_modified) == ('"v2"', "Wed, 01 Jan 2025 00:00:00 GMT")

        again = await fetcher.fetch(base + "/feed", accept_types=FEED_TYPES, etag=first.etag)
        assert (again.status, again.not_modified, again.body) == (304, True, b"")
        assert again.etag == '"v2"'

        by_date = await fetcher.fetch(
            base + "/feed", accept_types=FEED_TYPES, last_modified=first.last_modified
        )
        assert by_date.not_modified
        assert by_date.last_modified == first.last_modified  # kept from the request: the 304 had none

        stale = await fetcher.fetch(base + "/feed", accept_types=FEED_TYPES, etag='"v1"')
        assert not stale.not_modified


# --- per-host concurrency ----------------------------------------------------------


async def test_per_host_concurrency() -> None:
    in_flight: dict[str, int] = {"127.0.0.1": 0, "127.0.0.2": 0, "total": 0}
    peak: dict[str, int] = dict.fromkeys(in_flight, 0)

    async def handler(request: web.Request) -> web.Response:
        host = request.host.partition(":")[0]
        for key in (host, "total"):
            in_flight[key] += 1
            peak[key] = max(peak[key], in_flight[key])
        await asyncio.sleep(0.15)
        for key in (host, "total"):
            in_flight[key] -= 1
        return web.Response(text=PAGE, content_type="text/html")

    async with (
        site({"/": handler}, "127.0.0.1") as one,
        site({"/": handler}, "127.0.0.2") as two,
        Fetcher(settings(per_host_concurrency=2)) as fetcher,
    ):
        urls = [f"{one}/?n={n}" for n in range(6)] + [f"{two}/?n={n}" for n in range(6)]
        results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert all(result.status == 200 for result in results)
    assert peak["127.0.0.1"] == 2
    assert peak["127.0.0.2"] == 2
    assert peak["total"] == 4  # hosts do not wait for each other


# --- failures to connect, and the session's lifetime ----------------------------------


async def test_unknown_host() -> None:
    async with Fetcher(settings(), resolver=StaticResolver({})) as fetcher:
        with pytest.raises(ConnectError) as info:
            await fetcher.fetch("http://no-such-site.test/")
    assert str(info.value) == "The site no-such-site.test could not be found."


async def test_connection_refused() -> None:
    async with site({"/": html(PAGE)}) as base:
        pass  # the server is gone: its port now refuses connections
    async with Fetcher(settings()) as fetcher:
        with pytest.raises(ConnectError, match=r"Could not connect to 127\.0\.0\.1"):
            await fetcher.fetch(base)


async def test_invalid_url() -> None:
    async with Fetcher(settings()) as fetcher:
        with pytest.raises(InvalidURLError):
            await fetcher.fetch("not a link")


async def test_one_session_reused_and_reopened_after_close() -> None:
    async with site({"/": html(PAGE)}) as base:
        fetcher = Fetcher(settings())
        assert fetcher._session is None  # made lazily, inside the running loop
        await fetcher.fetch(base)
        session = fetcher._session
        await fetcher.fetch(base)
        assert fetcher._session is session
        await fetcher.close()
        assert session is not None and session.closed
        assert (await fetcher.fetch(base)).status == 200
        await fetcher.close()
