"""A local feed site for tests and benchmarks: real HTTP on loopback, conditional GET, faults.

    async with FeedServer() as server:
        feed = server.add_feed("/news.xml", title="News", items=[item(1), item(2)])
        url = server.url("/news.xml")
        ...
        feed.publish(item(3))              # a new story: new body, new ETag and Last-Modified
        assert server.hits["/news.xml"] == 2

Feeds answer ``If-None-Match`` / ``If-Modified-Since`` with 304. Faults on any path:
:meth:`FeedServer.fail` (404/410/429/5xx, with headers such as Retry-After),
:meth:`FeedServer.serve_raw` (malformed XML, entity bombs, HTML pages), :meth:`FeedServer.slow`,
:meth:`FeedServer.endless`, :meth:`FeedServer.huge`, :meth:`FeedServer.redirect_loop`.

``python3 -m tests.feedserver --feeds 10000 --port 8765`` serves ``/feed/<n>.xml`` synthetic
feeds of 20 items in a process of its own (the poll benchmark starts it so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import ipaddress
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from types import TracebackType
from typing import Self

from aiohttp import web

BASE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    """One entry of a served feed."""

    guid: str | None
    title: str
    link: str | None
    summary: str = ""
    published: datetime | None = None
    image_url: str | None = None
    categories: tuple[str, ...] = ()


def item(n: int, *, guid: str | None = None, link: str | None = None, **extra: object) -> Item:
    """Item number ``n``: guid ``item-n``, link ``https://example.org/story/n``, published ``n``
    hours after :data:`BASE_TIME` (so a higher ``n`` is newer).
    """
    values: dict[str, object] = {
        "guid": guid if guid is not None else f"item-{n}",
        "title": f"Story {n}",
        "link": link if link is not None else f"https://example.org/story/{n}",
        "summary": f"Summary of story {n}.",
        "published": BASE_TIME + timedelta(hours=n),
    }
    values.update(extra)
    return Item(**values)  # type: ignore[arg-type]


@dataclass
class ServedFeed:
    """A feed the server serves; change it and the next request sees the change."""

    path: str
    title: str
    items: list[Item]
    site_url: str = "https://example.org/"
    format: str = "rss"  # "rss" | "atom"
    ttl_minutes: int | None = None
    #: ``sy:updatePeriod`` ("hourly", "daily"...), as WordPress writes it.
    update_period: str | None = None
    #: Send ETag / Last-Modified and honour conditional requests.
    validators: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    version: int = 1
    modified_at: datetime = BASE_TIME
    #: A fixed ETag suffix, changed by :meth:`new_etag` without touching the body.
    etag_salt: int = 0

    def publish(self, *new_items: Item) -> None:
        """Add items at the top (newest first, as feeds list them)."""
        self.items[:0] = list(reversed(new_items))
        self._changed()

    def set_items(self, items: Sequence[Item]) -> None:
        """Replace the items (feed order: newest first)."""
        self.items = list(items)
        self._changed()

    def new_etag(self) -> None:
        """A new ETag for the same body (some servers do this on every deploy)."""
        self.etag_salt += 1

    def _changed(self) -> None:
        self.version += 1
        self.modified_at = self.modified_at + timedelta(minutes=1)

    @property
    def etag(self) -> str:
        return f'"v{self.version}-{self.etag_salt}"'

    def body(self) -> bytes:
        return (render_atom if self.format == "atom" else render_rss)(self).encode()


def _date(value: datetime | None) -> str:
    return format_datetime(value, usegmt=True) if value else ""


def render_rss(feed: ServedFeed) -> str:
    esc = html.escape
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>',
        f"<title>{esc(feed.title)}</title><link>{esc(feed.site_url)}</link>",
        f"<description>{esc(feed.title)} news</description>",
    ]
    if feed.ttl_minutes:
        parts.append(f"<ttl>{feed.ttl_minutes}</ttl>")
    if feed.update_period:
        parts.append(f"<sy:updatePeriod>{esc(feed.update_period)}</sy:updatePeriod>")
    for it in feed.items:
        parts.append("<item>")
        parts.append(f"<title>{esc(it.title)}</title>")
        if it.link:
            parts.append(f"<link>{esc(it.link)}</link>")
        if it.guid:
            parts.append(f'<guid isPermaLink="false">{esc(it.guid)}</guid>')
        parts.append(f"<description>{esc(it.summary)}</description>")
        if it.published:
            parts.append(f"<pubDate>{_date(it.published)}</pubDate>")
        for category in it.categories:
            parts.append(f"<category>{esc(category)}</category>")
        if it.image_url:
            parts.append(f'<media:content url="{esc(it.image_url)}" medium="image"/>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts)


def render_atom(feed: ServedFeed) -> str:
    esc = html.escape
    updated = max((i.published for i in feed.items if i.published), default=BASE_TIME)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{esc(feed.title)}</title><id>urn:feed:{esc(feed.path)}</id>",
        f'<link rel="alternate" href="{esc(feed.site_url)}"/><updated>{updated.isoformat()}</updated>',
    ]
    for it in feed.items:
        parts.append("<entry>")
        parts.append(f"<title>{esc(it.title)}</title>")
        if it.link:
            parts.append(f'<link rel="alternate" href="{esc(it.link)}"/>')
        parts.append(f"<id>{esc(it.guid or it.link or it.title)}</id>")
        if it.published:
            parts.append(f"<updated>{it.published.isoformat()}</updated>")
        parts.append(f"<summary>{esc(it.summary)}</summary></entry>")
    parts.append("</feed>")
    return "".join(parts)


@dataclass
class _Raw:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """An aiohttp server on 127.0.0.1 serving :class:`ServedFeed` s and faults; counts hits."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"tests only serve on loopback addresses, not {host}")
        self.host = host
        self.feeds: dict[str, ServedFeed] = {}
        #: Requests per path (every request, 304s included).
        self.hits: Counter[str] = Counter()
        #: 304 answers per path.
        self.not_modified: Counter[str] = Counter()
        #: Request headers of the last request per path.
        self.last_headers: dict[str, dict[str, str]] = {}
        #: Requests being answered now, and the most at once (per-host limits).
        self.in_flight = 0
        self.peak_in_flight = 0
        self._raw: dict[str, _Raw] = {}
        self._slow: dict[str, float] = {}
        self._endless: set[str] = set()
        self._huge: dict[str, int] = {}
        self._loops: set[str] = set()
        self._redirects: dict[str, tuple[str, int]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self, port: int = 0) -> str:
        app = web.Application(middlewares=[self._count_in_flight])
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.base_url = f"http://{self.host}:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- content -------------------------------------------------------------------------

    def add_feed(
        self, path: str, *, title: str = "Test feed", items: Sequence[Item] = (), **options: object
    ) -> ServedFeed:
        """Serve a feed at ``path`` (``items`` in feed order: newest first)."""
        feed = ServedFeed(path=path, title=title, items=list(items), **options)  # type: ignore[arg-type]
        self.feeds[path] = feed
        self._clear_faults(path)
        return feed

    def serve_raw(
        self, path: str, body: bytes | str, content_type: str = "application/xml", **headers: str
    ) -> None:
        """Serve ``body`` as is (malformed XML, an entity bomb, an HTML page...)."""
        data = body.encode() if isinstance(body, str) else body
        self._clear_faults(path)
        self._raw[path] = _Raw(data, content_type, headers=dict(headers))

    def html_page(
        self, path: str, *, feed_links: Sequence[tuple[str, str]] = (), title: str = "A site"
    ) -> None:
        """An HTML page announcing ``feed_links`` (``(href, type)`` pairs) in its head."""
        links = "".join(
            f'<link rel="alternate" type="{html.escape(kind)}" href="{html.escape(href)}" title="Feed {i}">'
            for i, (href, kind) in enumerate(feed_links, 1)
        )
        head = f"<title>{html.escape(title)}</title>{links}"
        body = f"<!doctype html><html><head>{head}</head><body><p>Hello</p></body></html>"
        self.serve_raw(path, body, "text/html; charset=utf-8")

    def fail(self, path: str, status: int, **headers: str) -> None:
        """Answer ``status`` (with ``headers``, e.g. ``**{"Retry-After": "120"}``) until :meth:`heal`."""
        self._clear_faults(path)
        self._raw[path] = _Raw(f"error {status}".encode(), "text/plain", status=status, headers=dict(headers))

    def slow(self, path: str, delay_s: float) -> None:
        """Wait ``delay_s`` before answering ``path`` (its feed, if any)."""
        self._slow[path] = delay_s

    def endless(self, path: str) -> None:
        """Send a feed-looking body that never ends (a byte at a time, forever)."""
        self._clear_faults(path)
        self._endless.add(path)

    def huge(self, path: str, size: int) -> None:
        """Send a well-formed-looking feed body of ``size`` bytes."""
        self._clear_faults(path)
        self._huge[path] = size

    def redirect(self, path: str, target: str, status: int = 301) -> None:
        """``path`` redirects to ``target`` (a path or a URL)."""
        self._clear_faults(path)
        self._redirects[path] = (target, status)

    def redirect_loop(self, path: str) -> None:
        """``path`` redirects to ``path?loop`` which redirects back."""
        self._clear_faults(path)
        self._loops.add(path)

    def heal(self, path: str) -> None:
        """Drop every fault on ``path``: its feed is served again."""
        self._clear_faults(path)

    def _clear_faults(self, path: str) -> None:
        self._raw.pop(path, None)
        self._slow.pop(path, None)
        self._endless.discard(path)
        self._huge.pop(path, None)
        self._loops.discard(path)
        self._redirects.pop(path, None)

    # --- serving ---------------------------------------------------------------------------

    @web.middleware
    async def _count_in_flight(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.last_headers[path] = dict(request.headers)
        if path in self._slow:
            await asyncio.sleep(self._slow[path])
        if path in self._loops:
            target = path if request.query_string else path + "?loop=1"
            raise web.HTTPFound(target)
        if path in self._redirects:
            target, status = self._redirects[path]
            return web.Response(status=status, headers={"Location": target})
        if path in self._endless:
            return await self._stream_forever(request)
        if path in self._huge:
            filler = b"<!-- " + b"x" * (self._huge[path] - 200) + b" -->"
            body = (
                b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
                + filler
                + b"</channel></rss>"
            )
            return web.Response(body=body, content_type="application/rss+xml")
        raw = self._raw.get(path)
        if raw is not None:
            return web.Response(
                body=raw.body, status=raw.status, headers={"Content-Type": raw.content_type, **raw.headers}
            )
        feed = self.feeds.get(path)
        if feed is None:
            return web.Response(status=404, text="not found")
        return self._serve_feed(request, feed)

    def _serve_feed(self, request: web.Request, feed: ServedFeed) -> web.Response:
        headers = dict(feed.headers)
        if feed.validators:
            headers["ETag"] = feed.etag
            headers["Last-Modified"] = _date(feed.modified_at)
            if _not_modified(request, feed):
                self.not_modified[feed.path] += 1
                return web.Response(status=304, headers=headers)
        kind = "application/atom+xml" if feed.format == "atom" else "application/rss+xml"
        return web.Response(body=feed.body(), headers={"Content-Type": f"{kind}; charset=utf-8", **headers})

    async def _stream_forever(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Endless</title>')
        try:
            while True:
                await response.write(b" ")
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response


def _not_modified(request: web.Request, feed: ServedFeed) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        return feed.etag in [tag.strip() for tag in match.split(",")] or match.strip() == "*"
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return feed.modified_at <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


# --- the benchmark's server -----------------------------------------------------------------


def synthetic_feed(n: int, items: int = 20) -> bytes:
    """Feed number ``n`` of the benchmark: ``items`` entries of realistic size."""
    feed = ServedFeed(
        path=f"/feed/{n}.xml",
        title=f"Bench feed {n}",
        site_url=f"https://site{n}.example/",
        items=[
            Item(
                guid=f"https://site{n}.example/story/{i}",
                title=f"Story {i} of feed {n}: something happened somewhere today",
                link=f"https://site{n}.example/story/{i}",
                summary=" ".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 6),
                published=BASE_TIME + timedelta(hours=i),
                image_url=f"https://site{n}.example/img/{i}.jpg",
                categories=("world", "news"),
            )
            for i in range(items, 0, -1)
        ],
    )
    return feed.body()


def bench_app(feed_count: int) -> web.Application:
    """``/feed/<n>.xml`` for ``n < feed_count``: 200 with an ETag, 304 when it matches.

    Every body is rendered before the server answers: a news site serves its feed from a cache,
    and on this 2-core machine rendering on demand would take CPU from the client under test.
    """
    bodies: list[tuple[bytes, str]] = []
    for n in range(feed_count):
        body = synthetic_feed(n)
        bodies.append((body, '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'))

    async def handler(request: web.Request) -> web.Response:
        try:
            n = int(request.match_info["n"])
        except ValueError:
            return web.Response(status=404)
        if not 0 <= n < feed_count:
            return web.Response(status=404)
        body, etag = bodies[n]
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve synthetic feeds on 127.0.0.1 (benchmarks).")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(bench_app(args.feeds), handle_signals=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    from bot.tuning import run_event_loop

    # On uvloop where installed, as the bot runs: the server shares the 2 cores with the client
    # it serves, and every cycle it spends is one the client under test does not get.
    with contextlib.suppress(KeyboardInterrupt):
        run_event_loop(serve())


if __name__ == "__main__":
    main()


# --- helpers shared by the feed tests ---------------------------------------------------------


class Clock:
    """A controllable clock: ``clock()`` is the current time, ``advance()`` moves it on."""

    def __init__(self, start: datetime = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
