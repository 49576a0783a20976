"""``/feed import`` as users meet it: an OPML file of N feeds imported through the feed service.

N feeds of 20 items are served by ``tests.feedserver`` in a process of its own; a fresh SQLite
database (or ``--db-url``) and the bot's own parse pool take the import. The time is
``FeedService.import_opml`` from the file's bytes to the report, progress callback included.

With ``--baseline REV`` the same import also runs on the code of commit ``REV`` (extracted with
``git archive`` into a temporary directory), in the same run and against the same server, the
two alternating ``--rounds`` times: the figures of both are printed side by side.

    python3 -m bench.import_bench                          # 1,000 feeds, this tree
    python3 -m bench.import_bench --baseline HEAD~3        # beside an older commit

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def opml_of(urls: list[str]) -> bytes:
    outlines = "\n".join(f'<outline type="rss" text="Feed {n}" xmlUrl="{u}"/>' for n, u in enumerate(urls))
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


async def run_import(base_url: str, feeds: int, db_url: str, workers: int) -> dict[str, Any]:
    from bot.config import FeedSettings, FetchSettings
    from bot.feeds.parser_pool import ParserPool
    from bot.feeds.service import FeedService
    from bot.fetch import Fetcher
    from bot.storage import Database
    from bot.storage.feeds import FeedStore

    db = Database(db_url)
    await db.upgrade()
    data = opml_of([f"{base_url}/feed/{n}.xml" for n in range(feeds)])
    settings = FeedSettings(max_subscriptions_per_guild=feeds + 10)
    reports: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        reports.append((done, total))

    async with ParserPool(workers) as pool, Fetcher(FetchSettings(allow_private_networks=True)) as fetcher:
        # A baseline from before the core built the store once gives FeedService the database.
        takes_store = "store" in inspect.signature(FeedService).parameters
        service = FeedService(FeedStore(db) if takes_store else db, fetcher, settings, parser=pool)
        started = time.perf_counter()
        report = await service.import_opml(1, 10, data, user_id=1, progress=progress)
        elapsed = time.perf_counter() - started
    await db.close()
    return {
        "seconds": elapsed,
        "added": len(report.added),
        "skipped": len(report.skipped),
        "errors": len(report.errors),
        "progress_calls": len(reports),
    }


def _child(args: argparse.Namespace) -> None:
    if args.code_root:
        sys.path.insert(0, args.code_root)  # the baseline's bot package before this tree's
    from bot.tuning import run_event_loop

    print(json.dumps(run_event_loop(run_import(args.base_url, args.feeds, args.db_url, args.workers))))


def _run_child(args: argparse.Namespace, base_url: str, db_url: str, code_root: str | None) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.import_bench", "--child", "--base-url", base_url,
        "--feeds", str(args.feeds), "--db-url", db_url, "--workers", str(args.workers),
        *(["--code-root", code_root] if code_root else []),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": code_root} if code_root else None
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"import run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _extract(rev: str, into: str) -> str:
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000, help="feeds in the OPML file")
    parser.add_argument("--workers", type=int, default=2, help="parse processes")
    parser.add_argument("--baseline", default=None, help="a commit to measure beside this tree")
    parser.add_argument("--rounds", type=int, default=1, help="imports per contender (alternating)")
    parser.add_argument("--db-url", default=None, help="database (default: a temporary SQLite file)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--code-root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.feedserver", "--feeds", str(args.feeds)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            contenders: list[tuple[str, str | None]] = []
            if args.baseline:
                contenders.append((f"baseline {args.baseline}", _extract(args.baseline, f"{tmp}/old")))
            contenders.append(("this tree", None))
            for n in range(args.rounds):
                for i, (name, code_root) in enumerate(contenders):
                    db_url = args.db_url or f"sqlite+aiosqlite:///{tmp}/import-{i}-{n}.db"
                    results.setdefault(name, []).append(_run_child(args, base_url, db_url, code_root))
    finally:
        server.terminate()
        server.wait(10)
    print(f"import_bench: /feed import of {args.feeds} feeds of 20 items, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'code':<28}{'seconds':>9}{'feeds/s':>9}{'added':>7}{'errors':>8}{'progress':>10}")
    for name, runs in results.items():
        for r in runs:
            rate = args.feeds / r["seconds"]
            print(
                f"{name:<28}{r['seconds']:>9.2f}{rate:>9.0f}{r['added']:>7}{r['errors']:>8}{r['progress_calls']:>10}"
            )


if __name__ == "__main__":
    main()
