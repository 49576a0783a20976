"""Rendering a feed post with a template (issue 13, point 1): µs per post beside the fixed
builder (the ``full`` preset, what every post cost before templates), measured in the same run.

    python -m bench.template_bench [--posts 20000] [--rounds 5]

Each configuration renders ``--posts`` distinct items (titles, summaries, authors of realistic
size, some with Markdown and mentions to escape) once per round; rounds alternate the
configurations, and the best round of each is reported (the least disturbed by the shared
machine), with the median beside it. The target is well under 1 ms a post.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.delivery.message import MessageSpec
from bot.feeds.types import Feed, FeedEntry
from bot.templates import Template, make_template, render_post
from bot.templates.presets import full_message
from bot.types import Article

FEED = Feed(url="https://news.example/feed", title="The Daily Example", site_url="https://news.example/",
            icon_url="https://news.example/icon.png")  # fmt: skip
WORDS = ["council", "budget", "vote", "*tram*", "line", "opens", "[late]", "night", "_storm_", "coast",
         "@everyone", "<@123>", "mayor"]  # fmt: skip


def entries(count: int) -> list[FeedEntry]:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        FeedEntry(
            guid=f"g{n}",
            link=f"https://news.example/story/{n}",
            title=" ".join(WORDS[(n + k) % len(WORDS)] for k in range(9)),
            summary=" ".join(WORDS[(n * 7 + k) % len(WORDS)] for k in range(80)),
            content_html=None,
            author=f"Reporter {n % 40}",
            published=base + timedelta(minutes=n),
            updated=None,
            categories=("World", "Politics"),
            image_url=f"https://news.example/img/{n}.jpg",
            enclosure_url=None,
        )
        for n in range(count)
    ]


def _configs(article: Article) -> dict[str, Callable[[FeedEntry], MessageSpec]]:
    custom = make_template(
        "full",
        {
            "content": "{source}: **{title}** {published}",
            "title": "{title}",
            "description": "{summary}\n\n{categories} · {reading_time}",
            "footer": "by {author} · {feed_title}",
            "color": "#112233",
            "thumbnail": "{image}",
        },
    )
    compact = Template(preset="compact")
    return {
        "fixed builder (baseline)": lambda e: full_message(e, FEED),
        "template full (default)": lambda e: render_post(None, e, FEED),
        "template compact": lambda e: render_post(compact, e, FEED),
        "template custom (7 parts)": lambda e: render_post(custom, e, FEED, article),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    items = entries(args.posts)
    article = Article(
        url=None, canonical_url=None, title=None, author=None, published=None, site_name=None,
        description=None, image_url=None, language=None, text="Body. " * 500, word_count=1000,
        reading_minutes=5, summary="An extracted summary of two sentences. It says more.",
    )  # fmt: skip
    configs = _configs(article)
    timings: dict[str, list[float]] = {name: [] for name in configs}
    for round_ in range(args.rounds):
        order = list(configs) if round_ % 2 == 0 else list(reversed(configs))
        for name in order:
            render = configs[name]
            started = time.perf_counter()
            for item in items:
                render(item)
            timings[name].append((time.perf_counter() - started) / len(items) * 1e6)
    for item in items[:200]:  # what was measured is also valid
        for render in configs.values():
            render(item).validate()
    print(f"{args.posts} posts x {args.rounds} rounds (µs per post: best round, median round)")
    for name, runs in timings.items():
        print(f"  {name:28} {min(runs):8.1f}  {statistics.median(runs):8.1f}")


if __name__ == "__main__":
    main()
