"""/fetch of an article whose address is longer than a link button may be (512 characters, as
Discord checks it): common for pages with their headline, in Japanese or Chinese, in the path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.e2e.harness import Harness
from tests.e2e.test_fetch import article_page, button_ids
from tests.emulator.limits import BUTTON_URL_MAX
from tests.loopback import serve

pytestmark = pytest.mark.e2e

#: A headline of 70 Japanese characters, percent-encoded in the path: 630 characters.
LONG_PATH = "/news/2026/12/" + "%E5%B8%82" * 70


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=article_page(4), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{path:.*}", page)
    async with serve(app) as base:
        yield base


async def test_an_article_at_a_long_address_is_shown_and_linked(newsdesk: Harness, site: str) -> None:
    url = site + LONG_PATH
    assert len(url) > BUTTON_URL_MAX

    result = await newsdesk.invoke("fetch", {"url": url}, timeout_s=30)

    assert result.errors == [], result.errors
    embed = result.embeds[0]
    assert embed["title"] == "Council approves tram extension" and embed["url"] == url
    buttons = button_ids(result.message)
    assert "Full text" in buttons and "Open article" not in buttons  # the title is the link
