"""The acknowledgement benchmark's site: the scale benchmark's counted feeds plus article pages.

``/feed/<n>.xml`` and ``/_stats`` are :func:`bench._scale_server.scale_app` as is (every request
counted; a 304 when ``If-None-Match`` is ``"b<n>"``, the ETag the benchmark seeds); added here,
``/article/<name>``: a news article page for ``/fetch`` (the page of the ``/fetch`` end-to-end
test), rendered once. Every name is its own address, so the bot's article cache never answers.

    python3 -m bench._ack_server --feeds 3000     # prints its base URL, serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._scale_server import scale_app
from tests.e2e.test_fetch import article_page

#: Paragraphs of the article page: a short news story, a few embed fields.
ARTICLE_PARAGRAPHS = 12


def ack_app(feed_count: int) -> web.Application:
    app = scale_app(feed_count, items=3)
    page = article_page(ARTICLE_PARAGRAPHS)
    articles = {"served": 0}

    async def article(request: web.Request) -> web.Response:
        articles["served"] += 1
        return web.Response(text=page, content_type="text/html")

    async def article_stats(request: web.Request) -> web.Response:
        return web.json_response(articles)

    app.router.add_get("/article/{name}", article)
    app.router.add_get("/_articles", article_stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve counted feeds and article pages on 127.0.0.1.")
    parser.add_argument("--feeds", type=int, default=3000)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(ack_app(args.feeds), handle_signals=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    from bot.tuning import run_event_loop

    with contextlib.suppress(KeyboardInterrupt):
        run_event_loop(serve())


if __name__ == "__main__":
    main()
