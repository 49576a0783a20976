"""What a feed-parse worker costs per changed feed: ``parse_with_keys`` plus pickling its result.

Times, on the poll benchmark's synthetic feeds (RSS 2.0, 20 items, ~15 KB) and on parse_bench's
realistic RSS 2.0 / Atom / RSS 1.0 feeds:

- ``parse_with_keys``, and ``pickle.dumps`` of its result right after (what crosses the process
  boundary), as a worker does;
- ``fastfeedparser.parse`` and ``feedparser.parse`` alone, as reference points;
- with ``--baseline REV``, the same ``parse_with_keys`` + pickle from git revision ``REV``
  (extracted with ``git archive``), measured in the same run.

Each side runs in a process of its own, and the sides take turns, one pass over every feed
each, ``--rounds`` times: a load that comes and goes on a shared machine then slows both alike.
A feed's figure is its best pass; a kind's is the median over its feeds.

    python3 bench/parse_worker_bench.py [--feeds 12] [--rounds 15] [--baseline HEAD~1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = "https://feeds.example/feed.xml"


def corpus(count: int) -> dict[str, list[bytes]]:
    """Feeds by kind: the synthetic ones and parse_bench's realistic ones."""
    from bench import parse_bench
    from tests.feedserver import synthetic_feed

    rng = random.Random(20260301)
    makers = {"rss2": parse_bench.rss2, "atom": parse_bench.atom, "rdf": parse_bench.rdf}
    feeds: dict[str, list[bytes]] = {"synthetic": [synthetic_feed(n) for n in range(count)]}
    for i in range(count):
        kind = list(makers)[i % 3]
        feeds.setdefault(kind, []).append(makers[kind](rng, i))
    return feeds


def _worker_pass(bodies: list[bytes]) -> tuple[list[float], list[float]]:
    """ms to parse each body and to pickle the result at once, as a worker does."""
    from bot.feeds.jobs import parse_with_keys

    parse_ms, pickle_ms = [], []
    for body in bodies:
        started = time.perf_counter()
        result = parse_with_keys(body, URL, None)
        parsed = time.perf_counter()
        pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        parse_ms.append((parsed - started) * 1000)
        pickle_ms.append((time.perf_counter() - parsed) * 1000)
    return parse_ms, pickle_ms


def _references() -> dict[str, Callable[[bytes], object]]:
    import fastfeedparser
    import feedparser

    return {
        "fastfeedparser": fastfeedparser.parse,
        "feedparser": lambda body: feedparser.parse(io.BytesIO(body)),
    }


def serve(count: int, references: bool) -> None:
    """A side: one timed pass over every feed per line read, its ms printed as one JSON line."""
    feeds = corpus(count)
    others = _references() if references else {}
    for _ in sys.stdin:
        passes: dict[str, dict[str, list[float]]] = {"parse": {}, "pickle": {}}
        for kind, bodies in feeds.items():
            passes["parse"][kind], passes["pickle"][kind] = _worker_pass(bodies)
        for name, parse in others.items():
            for kind, bodies in feeds.items():
                row = passes.setdefault(name, {}).setdefault(kind, [])
                for body in bodies:
                    started = time.perf_counter()
                    parse(body)
                    row.append((time.perf_counter() - started) * 1000)
        print(json.dumps(passes), flush=True)


class Side:
    """A timing process running the ``bot`` package found under ``code_root``."""

    def __init__(self, code_root: Path, count: int, references: bool) -> None:
        # bot is imported first, from code_root: bench.parse_bench puts ROOT first on the path.
        code = (
            f"import sys; sys.path[:0] = [{str(code_root)!r}, {str(ROOT)!r}]; "
            "import bot.feeds.jobs; from bench.parse_worker_bench import serve; "
            f"assert bot.feeds.jobs.__file__.startswith({str(code_root)!r}); "
            f"serve({count}, {references})"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.best: dict[str, dict[str, list[float]]] = {}

    def one_pass(self) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        for name, kinds in json.loads(self.process.stdout.readline()).items():
            for kind, values in kinds.items():
                best = self.best.setdefault(name, {}).setdefault(kind, values)
                best[:] = map(min, best, values)

    def median(self, name: str, kind: str) -> float:
        return statistics.median(self.best[name][kind])

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()


def _checkout(rev: str, into: str) -> Path:
    archive = subprocess.run(["git", "archive", rev, "bot"], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return Path(into)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=12, help="feeds per kind")
    parser.add_argument("--rounds", type=int, default=15, help="passes per side; a feed's best counts")
    parser.add_argument("--baseline", metavar="REV", help="also time parse_with_keys at this git revision")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sides = {"now": Side(ROOT, args.feeds, references=True)}
        if args.baseline:
            sides["base"] = Side(_checkout(args.baseline, tmp), args.feeds, references=False)
        try:
            for _ in range(args.rounds):
                for side in sides.values():
                    side.one_pass()
        finally:
            for side in sides.values():
                side.close()
    report(sides, args)


def report(sides: dict[str, Side], args: argparse.Namespace) -> None:
    now, base = sides["now"], sides.get("base")
    print(
        f"{args.feeds} feeds per kind, best of {args.rounds} passes per feed, median over feeds, "
        f"ms per feed ({os.cpu_count()} CPUs, {'sides taking turns' if base else 'one side'})"
    )
    header = f"{'feed kind':<10} {'parse':>7} {'pickle':>7} {'total':>7}"
    if base:
        header += f" {'base parse':>10} {'base pickle':>11} {'base total':>10} {'change':>7}"
    print(header + f" {'fastfeedparser':>14} {'feedparser':>10}")
    for kind in now.best["parse"]:
        parse, dump = now.median("parse", kind), now.median("pickle", kind)
        line = f"{kind:<10} {parse:>7.3f} {dump:>7.3f} {parse + dump:>7.3f}"
        if base:
            base_parse, base_dump = base.median("parse", kind), base.median("pickle", kind)
            base_total = base_parse + base_dump
            line += f" {base_parse:>10.3f} {base_dump:>11.3f} {base_total:>10.3f}"
            line += f" {((parse + dump) / base_total - 1) * 100:>+6.0f}%"
        line += f" {now.median('fastfeedparser', kind):>14.3f} {now.median('feedparser', kind):>10.3f}"
        print(line)
    if base:
        print(f"base: git revision {args.baseline}")


if __name__ == "__main__":
    main()
