"""The /fetch code path end to end without Discord: loopback page server → fetch → extract → cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import Settings
from bot.core import Newsdesk
from bot.errors import BlockedAddressError, HTTPStatusError, InvalidURLError, NotAnArticleError
from tests.loopback import serve

PARAGRAPHS = [
    "The city council voted on Tuesday to expand the tram network to the northern districts, "
    "a project that has been debated for more than a decade.",
    "Supporters said the extension would cut commuting times by half for forty thousand residents, "
    "while opponents questioned the cost of the tunnels under the river.",
    "Construction is expected to begin next spring and to last four years, the mayor's office said "
    "in a statement published after the vote.",
]

ARTICLE_PAGE = f"""<!doctype html><html lang="en"><head>
<title>Council approves tram extension | City Post</title>
<meta property="og:title" content="Council approves tram extension">
<meta property="og:site_name" content="City Post">
<meta name="author" content="Ana Lopez">
<meta property="article:published_time" content="2026-11-20T08:00:00+00:00">
<meta property="og:image" content="/img/tram.jpg">
<link rel="canonical" href="/news/tram-extension?utm_source=feed">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Council approves tram extension</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article>
<footer>© City Post</footer></body></html>"""


class PageServer:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_get("/{name}", self.handle)
        self.release = asyncio.Event()
        self.release.set()
        #: Extra pages by name, served as HTML.
        self.pages: dict[str, str] = {}

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        await self.release.wait()
        if name == "article":
            return web.Response(text=ARTICLE_PAGE, content_type="text/html")
        if name in self.pages:
            return web.Response(text=self.pages[name], content_type="text/html")
        if name == "empty":
            return web.Response(text="<html><body><nav>Home</nav></body></html>", content_type="text/html")
        if name == "gone":
            raise web.HTTPGone()
        raise web.HTTPNotFound()


@pytest.fixture
async def server() -> AsyncIterator[tuple[PageServer, str]]:
    pages = PageServer()
    async with serve(pages.app) as base_url:
        yield pages, base_url


def settings_for(tmp_path: Path, *, private: bool = True) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/nd.db"},
            "fetch": {"allow_private_networks": private, "timeout_s": 5},
            "extract": {"workers": 1, "timeout_s": 10},
        }
    )


async def test_fetch_extracts_and_caches(tmp_path: Path, server: tuple[PageServer, str]) -> None:
    pages, base = server
    async with Newsdesk(settings_for(tmp_path)) as core:
        article = await core.articles.get(f"{base}/article?utm_campaign=x")
        assert article.title == "Council approves tram extension"
        assert article.site_name == "City Post"
        assert article.author == "Ana Lopez"
        assert article.published == datetime(2026, 11, 20, 8, tzinfo=UTC)
        assert article.image_url == f"{base}/img/tram.jpg"
        for paragraph in PARAGRAPHS:
            assert paragraph in article.text
        assert "Home" not in article.text
        # Same article, other tracking parameters: served from the cache.
        again = await core.articles.get(f"{base}/article?utm_source=y")
        assert again == article
        assert pages.hits["article"] == 1


async def test_cache_survives_restart_and_expires(tmp_path: Path, server: tuple[PageServer, str]) -> None:
    pages, base = server
    async with Newsdesk(settings_for(tmp_path)) as core:
        await core.articles.get(f"{base}/article")
    async with Newsdesk(settings_for(tmp_path)) as core:
        await core.articles.get(f"{base}/article")
        assert pages.hits["article"] == 1
        later = datetime.now(UTC) + timedelta(seconds=core.settings.cache.article_ttl_s + 1)
        core.articles._clock = lambda: later
        await core.articles.get(f"{base}/article")
        assert pages.hits["article"] == 2


async def test_concurrent_requests_share_one_fetch(tmp_path: Path, server: tuple[PageServer, str]) -> None:
    pages, base = server
    pages.release.clear()
    async with Newsdesk(settings_for(tmp_path)) as core:
        tasks = [asyncio.create_task(core.articles.get(f"{base}/article")) for _ in range(5)]
        await asyncio.sleep(0.3)
        pages.release.set()
        articles = await asyncio.gather(*tasks)
    assert pages.hits["article"] == 1
    assert len({a.title for a in articles}) == 1


async def test_errors_are_specific(tmp_path: Path, server: tuple[PageServer, str]) -> None:
    _, base = server
    async with Newsdesk(settings_for(tmp_path)) as core:
        with pytest.raises(InvalidURLError):
            await core.articles.get("not a url")
        with pytest.raises(HTTPStatusError) as info:
            await core.articles.get(f"{base}/gone")
        assert info.value.status == 410
        with pytest.raises(NotAnArticleError):
            await core.articles.get(f"{base}/empty")


async def test_default_settings_refuse_loopback(tmp_path: Path, server: tuple[PageServer, str]) -> None:
    pages, base = server
    async with Newsdesk(settings_for(tmp_path, private=False)) as core:
        with pytest.raises(BlockedAddressError):
            await core.articles.get(f"{base}/article")
    assert pages.hits == {}


# --- the shared cache and rel=canonical -----------------------------------------------------


def hostile_page(claimed_url: str) -> str:
    """A page on one site that names a page of another site as its canonical URL."""
    return f"""<!doctype html><html lang="en"><head><title>Fake: the council resigns</title>
<link rel="canonical" href="{claimed_url}"></head><body><article><h1>Fake: the council resigns</h1>
<p>This text was written by whoever runs the page that claims to be the real one, and it says
whatever they want readers of the real outlet to believe, for as long as the cache keeps it.</p>
<p>Every server that asks for the real page would be shown this one, with a link to the real
outlet under it, if the declared canonical URL were trusted as it is written.</p>
</article></body></html>"""


@pytest.fixture
async def two_sites() -> AsyncIterator[tuple[PageServer, str, PageServer, str]]:
    """The real outlet on 127.0.0.1, a hostile site on 127.0.0.2: two hosts, two sites."""
    real, hostile = PageServer(), PageServer()
    async with serve(real.app) as real_base, serve(hostile.app, "127.0.0.2") as hostile_base:
        yield real, real_base, hostile, hostile_base


async def test_canonical_url_on_another_site_does_not_poison_the_cache(
    tmp_path: Path, two_sites: tuple[PageServer, str, PageServer, str]
) -> None:
    real, real_base, hostile, hostile_base = two_sites
    claimed = f"{real_base}/article"
    hostile.pages["fake"] = hostile_page(claimed)
    async with Newsdesk(settings_for(tmp_path)) as core:
        fake = await core.articles.get(f"{hostile_base}/fake")
        assert fake.title == "Fake: the council resigns"
        # Its link is where it was found, not the outlet it names.
        assert fake.canonical_url == f"{hostile_base}/fake"

        for url in (claimed, f"{claimed}?utm_source=feed"):
            article = await core.articles.get(url)
            assert article.title == "Council approves tram extension"
        assert real.hits["article"] == 1  # fetched from the outlet, then cached for both spellings


async def test_canonical_url_on_the_same_site_is_a_cache_key(
    tmp_path: Path, server: tuple[PageServer, str]
) -> None:
    pages, base = server
    async with Newsdesk(settings_for(tmp_path)) as core:
        article = await core.articles.get(f"{base}/article")
        assert article.canonical_url == f"{base}/news/tram-extension"
        # The page's own canonical spelling is a hit, without a request.
        assert await core.articles.get(f"{base}/news/tram-extension?utm_medium=x") == article
    assert pages.hits == {"article": 1}
