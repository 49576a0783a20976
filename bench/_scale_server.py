"""The scale benchmark's feed site: ``/feed/<n>.xml`` for ``n < feeds``, counting requests per feed.

Like :func:`tests.feedserver.bench_app` (the same synthetic feeds, 200 with an ETag, 304 when it
matches), with two differences the scale benchmark needs:

- every request is counted per feed, so a pass shows whether any feed was polled twice
  (``GET /_stats`` answers the counts as JSON; ``?reset=1`` starts them again);
- bodies are rendered when asked for, not all before the first request: 50,000 feeds of
  rendered bodies would hold hundreds of MB on a shared machine, and only the seeding pass
  asks for bodies. The ETag is fixed per feed (``"b<n>"``), so a 304 needs no body at all.

    python3 -m bench._scale_server --feeds 50000 --items 3    # prints its base URL, serves
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from array import array
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.feedserver import synthetic_feed


def scale_app(feed_count: int, items: int) -> web.Application:
    hits = array("I", bytes(4 * feed_count))  # requests per feed since the last reset
    answered = {"200": 0, "304": 0, "404": 0}

    async def feed(request: web.Request) -> web.Response:
        try:
            n = int(request.match_info["n"])
        except ValueError:
            n = -1
        if not 0 <= n < feed_count:
            answered["404"] += 1
            return web.Response(status=404)
        hits[n] += 1
        etag = f'"b{n}"'
        if request.headers.get("If-None-Match") == etag:
            answered["304"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        answered["200"] += 1
        return web.Response(
            body=synthetic_feed(n, items), headers={"ETag": etag, "Content-Type": "application/rss+xml"}
        )

    async def stats(request: web.Request) -> web.Response:
        counts = {
            "requests": sum(hits),
            "feeds_polled": sum(1 for h in hits if h),
            "feeds_twice": sum(1 for h in hits if h > 1),
            "max_per_feed": max(hits, default=0),
            "answered": dict(answered),
        }
        if request.query.get("reset"):
            for n in range(feed_count):
                hits[n] = 0
            for key in answered:
                answered[key] = 0
        return web.Response(text=json.dumps(counts), content_type="application/json")

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/_stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve counted synthetic feeds on 127.0.0.1.")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=3)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(scale_app(args.feeds, args.items), handle_signals=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    from bot.tuning import run_event_loop

    # On uvloop where installed, as the feed bench's server: it shares the cores with the
    # workers it serves.
    with contextlib.suppress(KeyboardInterrupt):
        run_event_loop(serve())


if __name__ == "__main__":
    main()
