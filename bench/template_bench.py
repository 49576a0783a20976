"""Rendering a feed post with a template (issue 13, point 1): µs per post beside the fixed
builder (the ``full`` preset, what every post cost before templates), measured in the same run;
and, once per posted item, making its HTML summary Markdown (point 6, ``ready_to_post``).

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
from bot.feeds.posts import ready_to_post
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
            summary_html=_summary_html(n),
        )
        for n in range(count)
    ]


def _summary_html(n: int) -> str:
    """A summary as feeds write it: a paragraph with links and emphasis, a list, an image."""
    words = [WORDS[(n * 7 + k) % len(WORDS)] for k in range(60)]
    words[5] = f'<a href="https://news.example/story/{n}/more">{words[5]} {words[6]}</a>'
    words[20] = f"<b>{words[20]}</b>"
    return (
        f'<p>{" ".join(words)}</p><img src="/img/{n}-inline.jpg">'
        "<ul><li>First point</li><li>Second <i>point</i></li></ul>"
    )


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
        "full, Markdown summary": lambda e: render_post(None, e, FEED),
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
    # What the pipeline posts: each item readied once (timed below, on its own).
    ready = [ready_to_post(item, FEED.url) for item in items]
    article = Article(
        url=None, canonical_url=None, title=None, author=None, published=None, site_name=None,
        description=None, image_url=None, language=None, text="Body. " * 500, word_count=1000,
        reading_minutes=5, summary="An extracted summary of two sentences. It says more.",
    )  # fmt: skip
    configs = _configs(article)
    timings: dict[str, list[float]] = {name: [] for name in configs}
    converting: list[float] = []
    for round_ in range(args.rounds):
        order = list(configs) if round_ % 2 == 0 else list(reversed(configs))
        for name in order:
            render = configs[name]
            posted = ready if name == "full, Markdown summary" else items
            started = time.perf_counter()
            for item in posted:
                render(item)
            timings[name].append((time.perf_counter() - started) / len(items) * 1e6)
        started = time.perf_counter()
        for item in items:
            ready_to_post(item, FEED.url)
        converting.append((time.perf_counter() - started) / len(items) * 1e6)
    for item in items[:200]:  # what was measured is also valid
        for render in configs.values():
            render(item).validate()
    print(f"{args.posts} posts x {args.rounds} rounds (µs per post: best round, median round)")
    for name, runs in timings.items():
        print(f"  {name:28} {min(runs):8.1f}  {statistics.median(runs):8.1f}")
    summary_chars = statistics.median(len(item.summary_html or "") for item in items)
    print(f"once per posted item: HTML summary ({summary_chars:.0f} chars) to Markdown (ready_to_post)")
    print(f"  {'ready_to_post':28} {min(converting):8.1f}  {statistics.median(converting):8.1f}")


if __name__ == "__main__":
    main()
