"""Commands stay fast under load (issue 12, point 9): /fetch acknowledgements while the bot polls.

The bot runs as users run it (``newsdesk run``, tests/e2e/harness.py), against the Discord
emulator (tests/emulator, in this process: it stamps each interaction's dispatch and the bot's
first callback, ``InteractionResult.ack_ms``) and a local site in a process of its own
(:mod:`bench._ack_server`: the scale benchmark's counted feeds, plus article pages). The database
is a fresh PostgreSQL one (``ack_bench_<pid>``, dropped at the end).

Load: ``--feeds`` feeds (default 3,000), subscribed through ``FeedStore.subscribe`` across
``--channels`` channels of the emulator's server, checked every ``--interval`` s (default 10;
``feeds.min_interval_s = 1``): about 300 polls a second. Each feed is seeded with the ETag the
site answers 304 to, so every poll is the steady state of a feed that did not change. Before
each configuration starts, every feed's next check is spread evenly over one interval from the
expected start, so the polls come at an even rate rather than in one overdue burst.

While it polls, ``--fetches`` ``/fetch url:<article page>`` interactions (default 70) are sent at
an even pace over ``--duration`` s (each its own page: no cache answers), once the feeds have been
falling due for ``--warmup`` s (default: one interval).

Two configurations, measured in the same run (alternating, a b / b a ..., with ``--rounds``),
and with ``--idle`` a control first in each round:

- **(a) all**: one process, ``--role all`` (gateway and every background duty);
- **(b) split**: a gateway process (``--role gateway``) and a worker process (``--role worker``,
  ``WorkerProcess`` of tests/e2e/test_roles.py) doing the polling and delivery;
- **(0) idle** (``--idle``): one process, ``--role all``, no feed due: what the machine's own
  load (shared, 2 cores) does to the acknowledgements with no polling at all;
- **(t) today** (``--today REV``, e.g. ``c077690^``, the last revision before the roles): one
  process of that revision's code (``git archive`` into a temporary directory, its own database
  ``ack_bench_<pid>_today`` seeded by its own storage code, :mod:`bench._ack_seed`), so "no
  worse than today" is also judged against a figure taken on the same machine in the same run.

Reported per configuration: ack_ms p50/p95/p99/max (linear interpolation between ranks; with 70
samples p99 lies between the two slowest), /fetch answers that came back whole, polls per second
counted at the feed site during the window, CPU of each bot process (its children, the parse
and extraction pools, included), and the lag of this process's event loop (the emulator's: a
late emulator inflates ack_ms). Then the verdicts: (b) p99 under 20 ms; (a) no worse than the
issue's figure for one process (p50 10.6 ms, p99 32 ms) and, with ``--today``, than (t).
``--json FILE`` keeps the figures and each round's timeline (when each /fetch went, its ack_ms).

    python3 -m bench.ack_bench                       # 3,000 feeds at 10 s, 70 fetches
    python3 -m bench.ack_bench --rounds 2            # a b b a
    python3 -m bench.ack_bench --quick               # smoke run: 300 feeds, 10 fetches
    python3 -m bench.ack_bench --idle --today c077690^ --rounds 3   # with the controls

Every process started here is stopped and the database dropped on exit, Ctrl-C and errors
included. Only 127.0.0.1 is contacted. The machine is shared (2 cores): read the figures with
the load average printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._ack_seed import seed, spread_schedule  # noqa: E402
from bench._lag import LagTicker  # noqa: E402
from bench._scale_pg import admin_dsn  # noqa: E402
from bench.import_bench import _extract  # noqa: E402
from bench.poll_bench import _proc_cpu_s  # noqa: E402
from tests.e2e import harness as harness_module  # noqa: E402
from tests.e2e.harness import Harness, merge  # noqa: E402
from tests.e2e.test_roles import WorkerProcess  # noqa: E402
from tests.emulator import Emulator  # noqa: E402
from tests.emulator.world import Channel  # noqa: E402

#: The issue's figures for one process today, and the goal with the gateway on its own.
TODAY_P50_MS = 10.6
TODAY_P99_MS = 32.0
GOAL_P99_MS = 20.0
#: The article page's title (tests/e2e/test_fetch.py ``article_page``): a whole answer shows it.
ARTICLE_TITLE = "Council approves tram extension"
CONFIGS = ("idle", "today", "all", "split")
LABELS = {
    "idle": "(0) idle, --role all",
    "today": "(t) --today, 1 process",
    "all": "(a) --role all",
    "split": "(b) gateway + worker",
}


# --- processes ---------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """``pid``'s child processes, recursively (from /proc: the parse and extraction pools)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and each of its descendants, by pid."""
    return {p: _proc_cpu_s(p) for p in [pid, *_descendants(pid)]}


def _cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that started in the window counts from zero; one that ended is lost (rare).
    return sum(cpu - before.get(p, 0.0) for p, cpu in after.items())


class Site:
    """:mod:`bench._ack_server` in a process of its own."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self, feeds: int) -> str:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._ack_server", "--feeds", str(feeds),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not line:
            raise SystemExit(f"the feed site exited (code {await self.process.wait()})")
        self.base_url = line.decode().strip()
        return self.base_url

    async def stats(self, *, reset: bool = False) -> dict[str, Any]:
        import aiohttp

        params = {"reset": "1"} if reset else {}
        url = f"{self.base_url}/_stats"
        async with aiohttp.ClientSession() as session, session.get(url, params=params) as answer:
            stats: dict[str, Any] = await answer.json()
        return stats

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- the database ------------------------------------------------------------------------------


async def create_database(base_url: str, suffix: str = "") -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"ack_bench_{os.getpid()}{suffix}"
    conn = await asyncpg.connect(admin_dsn(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(db_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    conn = await asyncpg.connect(admin_dsn(db_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    finally:
        await conn.close()


# --- one configuration, measured ---------------------------------------------------------------


@dataclass
class Round:
    config: str
    index: int
    acks_ms: list[float] = field(default_factory=list)
    #: (seconds into the window the fetch was sent, its ack_ms): when the slow ones came.
    timeline: list[tuple[float, float | None]] = field(default_factory=list)
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    window_s: float = 0.0
    requests: int = 0
    fresh_bodies: int = 0
    start_s: float = 0.0
    cpu_pct: dict[str, float] = field(default_factory=dict)
    lag_p99_ms: float = 0.0
    error_lines: int = 0

    @property
    def polls_per_s(self) -> float:
        return self.requests / self.window_s if self.window_s else 0.0


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        emu: Emulator,
        site: Site,
        db_urls: dict[str, str],
        workdir: Path,
        today_tree: Path | None = None,
    ) -> None:
        self.args = args
        self.emu = emu
        self.site = site
        #: The database of each configuration (``--today``'s code has a schema of its own).
        self.db_urls = db_urls
        self.workdir = workdir
        self.today_tree = today_tree
        #: Seconds from start until the processes poll, per configuration: learnt from each start.
        self.expected_start_s = {config: 6.0 for config in CONFIGS}

    def overrides(self, config: str, workdir: Path) -> dict[str, dict[str, Any]]:
        args = self.args
        # One process runs every role by default: no `run` section, which older code refuses.
        run = {"run": {"roles": "gateway"}} if config == "split" else {}
        return {
            "database": {"url": self.db_urls[config]},
            **run,
            "feeds": {"interval_s": args.interval, "min_interval_s": 1},
            # One host serves every feed: its limit must not be what caps the poll rate (each
            # of N live processes takes 1/N of it).
            "fetch": {"allow_private_networks": True, "per_host_concurrency": args.host_concurrency},
            "health": {"heartbeat_file": str(workdir / "heartbeat")},
            "log": {"level": "INFO"},
        }

    async def run(self, config: str, index: int) -> Round:
        args = self.args
        result = Round(config, index)
        workdir = self.workdir / f"{config}-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        gateway = Harness(self.emu, workdir, self.overrides(config, workdir))
        worker: WorkerProcess | None = None
        # The processes find the feeds falling due at an even rate from about when they are up
        # (the idle control: none due during the run).
        started = time.monotonic()
        first_at = timedelta(days=1) if config == "idle" else timedelta(seconds=self.expected_start_s[config])
        await spread_schedule(self.db_urls[config], datetime.now(UTC) + first_at, args.interval)
        first_due = started + self.expected_start_s[config]
        try:
            await self._start(gateway, config)
            if config == "split":
                worker_config = merge(
                    gateway.config(), {"health": {"heartbeat_file": str(workdir / "hb-worker")}}
                )
                worker = WorkerProcess(workdir, worker_config)
                await worker.start()
                await _wait_for_log(worker, "starting roles=worker", timeout_s=120)
            result.start_s = time.monotonic() - started
            self.expected_start_s[config] = result.start_s + 0.5
            # The window opens once the schedule has run for the warm-up (a whole interval by
            # default: any overdue burst from a late start is over), and at least 1 s after start.
            await _sleep_until(max(time.monotonic() + 1.0, first_due + args.warmup))
            await self._measure(result, gateway, worker)
        finally:
            codes = {}
            if worker is not None:
                codes["worker"] = await worker.stop()
            codes["gateway"] = await gateway.stop_bot()
            for name, code in codes.items():
                if code not in (0, None):
                    result.failures.append(f"{name} process exited with code {code}")
        result.error_lines = sum(
            _error_lines(path) for path in (gateway.log_path, workdir / "worker.log") if path.exists()
        )
        return result

    async def _start(self, gateway: Harness, config: str) -> None:
        if config != "today":
            await gateway.start_bot(timeout_s=120)
            return
        assert self.today_tree is not None
        # The harness runs `python -m bot.cli` in REPO_ROOT with REPO_ROOT first on PYTHONPATH:
        # pointed at the extracted tree for this start, the process runs that tree's code.
        here = harness_module.REPO_ROOT
        harness_module.REPO_ROOT = self.today_tree
        try:
            await gateway.start_bot(timeout_s=120)
        finally:
            harness_module.REPO_ROOT = here

    async def _measure(self, result: Round, gateway: Harness, worker: WorkerProcess | None) -> None:
        args = self.args
        assert gateway.process is not None
        pids = {"gateway" if worker else "process": gateway.process.pid}
        if worker is not None:
            assert worker.process is not None
            pids["worker"] = worker.process.pid
        site_pid = self.site.process.pid if self.site.process else 0
        await self.site.stats(reset=True)
        cpu_before = {name: _tree_cpu_s(pid) for name, pid in pids.items()}
        site_before = _proc_cpu_s(site_pid)
        pending: list[asyncio.Task[Any]] = []
        sent_at: list[float] = []
        async with LagTicker() as lags:
            t0 = time.monotonic()
            for i in range(args.fetches):
                await _sleep_until(t0 + i * args.duration / args.fetches)
                url = f"{self.site.base_url}/article/{result.config}-{result.index}-{i}"
                record = await self.emu.dispatch_command(
                    "fetch", {"url": url}, user=self.emu.default.member, channel=self.emu.default.general
                )
                pending.append(asyncio.create_task(self.emu.await_result(record, timeout_s=30, settle=0)))
                sent_at.append(time.monotonic() - t0)
            await _sleep_until(t0 + args.duration)
            result.window_s = time.monotonic() - t0
            stats = await self.site.stats()
            cpu_after = {name: _tree_cpu_s(pid) for name, pid in pids.items()}
            site_cpu = _proc_cpu_s(site_pid) - site_before
        answers = await asyncio.gather(*pending, return_exceptions=True)
        result.requests = int(stats["requests"])
        result.fresh_bodies = int(stats["answered"]["200"])
        for name in pids:
            result.cpu_pct[name] = _cpu_between(cpu_before[name], cpu_after[name]) / result.window_s * 100
        result.cpu_pct["feed site"] = site_cpu / result.window_s * 100
        result.lag_p99_ms = quantile([x * 1e3 for x in lags], 0.99) if lags else 0.0
        for n, answer in enumerate(answers):
            if isinstance(answer, BaseException):
                result.failures.append(f"fetch {n}: {answer!r}"[:300])
                continue
            result.timeline.append((round(sent_at[n], 2), answer.ack_ms))
            if answer.ack_ms is not None:
                result.acks_ms.append(answer.ack_ms)
            whole = answer.callback_type == 5 and any(
                ARTICLE_TITLE in (embed.get("title") or "") for embed in answer.embeds
            )
            if whole:
                result.answered += 1
            else:
                result.failures.append(
                    f"fetch {n}: callback {answer.callback_type}, {answer.content[:80]!r}, "
                    f"errors {answer.errors}"
                )


async def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _wait_for_log(worker: WorkerProcess, text: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in worker.log():
        if worker.process is None or worker.process.returncode is not None:
            raise SystemExit(f"the worker process exited during start:\n{worker.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start within {timeout_s} s:\n{worker.log()[-3000:]}")
        await asyncio.sleep(0.1)


def _error_lines(path: Path) -> int:
    text = path.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in text.splitlines() if " ERROR " in line or line.startswith("ERROR"))


# --- report ------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile, linear between ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(rounds: list[Round]) -> dict[str, Any]:
    acks = [a for r in rounds for a in r.acks_ms]
    figures: dict[str, Any] = {
        "samples": len(acks),
        "acks_ms": acks,
        "answered": sum(r.answered for r in rounds),
        "sent": 0,
        "polls_per_s": statistics.mean(r.polls_per_s for r in rounds),
        "fresh_bodies": sum(r.fresh_bodies for r in rounds),
        "start_s": statistics.mean(r.start_s for r in rounds),
        "lag_p99_ms": max(r.lag_p99_ms for r in rounds),
        "error_lines": sum(r.error_lines for r in rounds),
        "failures": [f for r in rounds for f in r.failures],
        "cpu_pct": {
            name: statistics.mean(r.cpu_pct.get(name, 0.0) for r in rounds) for name in rounds[0].cpu_pct
        },
    }
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        figures[name] = quantile(acks, q) if acks else float("nan")
    return figures


def report(args: argparse.Namespace, rounds: list[Round], seed_s: float) -> dict[str, Any]:
    by_config = {c: [r for r in rounds if r.config == c] for c in CONFIGS}
    s = {c: summary(rs) for c, rs in by_config.items() if rs}
    for c in s:
        s[c]["sent"] = args.fetches * len(by_config[c])
    target = args.feeds / args.interval
    print(
        f"ack_bench: {args.feeds} feeds every {args.interval} s (~{target:.0f} polls/s asked, all 304), "
        f"{args.fetches} /fetch per round over {args.duration:.0f} s after {args.warmup:.0f} s warm-up, "
        f"{args.rounds} round(s), PostgreSQL; seeded in {seed_s:.1f} s; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    width = 24
    print(f"{'':<34}" + "".join(f"{LABELS[c]:>{width}}" for c in s))

    def row(label: str, cell: Any) -> None:
        print(f"{label:<34}" + "".join(f"{cell(c):>{width}}" for c in s))

    for name in ("p50", "p95", "p99", "max"):
        row(f"ack_ms {name}", lambda c, name=name: f"{s[c][name]:.1f}")
    row("/fetch answered whole", lambda c: f"{s[c]['answered']}/{s[c]['sent']}")
    row("polls/s achieved (at the site)", lambda c: f"{s[c]['polls_per_s']:.0f}")
    row("feed bodies sent (200, not 304)", lambda c: f"{s[c]['fresh_bodies']}")
    for proc in ("process", "gateway", "worker", "feed site"):
        if any(proc in s[c]["cpu_pct"] for c in s):
            row(
                f"CPU % {proc}",
                lambda c, p=proc: f"{s[c]['cpu_pct'][p]:.0f}" if p in s[c]["cpu_pct"] else "-",
            )
    row("emulator loop lag p99 ms", lambda c: f"{s[c]['lag_p99_ms']:.1f}")
    row("start s (until commands synced)", lambda c: f"{s[c]['start_s']:.1f}")
    row("ERROR lines in the bot logs", lambda c: f"{s[c]['error_lines']}")
    if args.rounds > 1:
        for r in rounds:
            acks = r.acks_ms or [float("nan")]
            print(
                f"  round {r.index + 1} {LABELS[r.config]:<22} p50 {quantile(acks, 0.5):6.1f}  "
                f"p99 {quantile(acks, 0.99):6.1f}  max {max(acks):6.1f}  polls/s {r.polls_per_s:4.0f}"
            )
    verdicts: dict[str, bool] = {}
    if "split" in s:
        verdicts["split_p99_under_goal"] = s["split"]["p99"] < GOAL_P99_MS
        print(
            f"(b) gateway + worker: p99 {s['split']['p99']:.1f} ms under {GOAL_P99_MS:.0f} ms: "
            f"{'yes' if verdicts['split_p99_under_goal'] else 'NO'}"
        )
    if "all" in s:
        a = s["all"]
        verdicts["all_no_worse"] = a["p50"] <= TODAY_P50_MS and a["p99"] <= TODAY_P99_MS
        print(
            f"(a) --role all: p50 {a['p50']:.1f} ms, p99 {a['p99']:.1f} ms, no worse than today "
            f"(p50 {TODAY_P50_MS} ms, p99 {TODAY_P99_MS:.0f} ms): "
            f"{'yes' if verdicts['all_no_worse'] else 'NO'}"
        )
    if "all" in s and "today" in s:
        a, t = s["all"], s["today"]
        verdicts["all_no_worse_than_today_run"] = a["p99"] <= t["p99"]
        print(
            f"(a) against (t) {args.today} in this run: p50 {a['p50']:.1f} / {t['p50']:.1f} ms, "
            f"p99 {a['p99']:.1f} / {t['p99']:.1f} ms: "
            f"{'no worse' if verdicts['all_no_worse_than_today_run'] else 'WORSE'} at p99"
        )
    for c in s:
        for failure in s[c]["failures"][:5]:
            print(f"  {LABELS[c]}: {failure}")
    per_round = [
        {"config": r.config, "round": r.index + 1, "polls_per_s": r.polls_per_s, "cpu_pct": r.cpu_pct,
         "timeline": r.timeline}
        for r in rounds
    ]  # fmt: skip
    return {"args": vars(args), "summary": s, "verdicts": verdicts, "rounds": per_round}


# --- orchestration -----------------------------------------------------------------------------


async def seed_today(
    tree: Path, db_url: str, base_url: str, feeds: int, targets: list[tuple[int, int]]
) -> None:
    """Seed ``db_url`` with the extracted tree's own storage code (its schema may differ)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    pairs = ",".join(f"{g}:{c}" for g, c in targets)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "_ack_seed.py"), "--db-url", db_url, "--base-url", base_url,
        "--feeds", str(feeds), "--targets", pairs,
        cwd=tree, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"seeding the --today database failed:\n{err.decode()[-3000:]}")


def order_of(args: argparse.Namespace, index: int) -> tuple[str, ...]:
    """The configurations of round ``index``: the two under test alternate their order."""
    order: tuple[str, ...] = ("all", "split") if index % 2 == 0 else ("split", "all")
    if args.today:
        order = ("today", *order) if index % 2 == 0 else (*order, "today")
    if args.idle:
        order = ("idle", *order)
    return order


async def run(args: argparse.Namespace) -> dict[str, Any]:
    site = Site()
    db_urls: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="ack_bench_") as tmp:
        workdir = Path(args.keep_logs) if args.keep_logs else Path(tmp)
        today_tree = Path(_extract(args.today, str(Path(tmp) / "today"))) if args.today else None
        try:
            base_url = await site.start(args.feeds)
            db_urls["all"] = await create_database(args.db_url)
            db_urls["idle"] = db_urls["split"] = db_urls["all"]
            async with Emulator() as emu:
                guild = emu.default.guild
                channels: list[Channel] = [guild.add_text_channel(f"feeds-{i}") for i in range(args.channels)]
                targets = [(guild.id, ch.id) for ch in channels]
                seed_s = await seed(db_urls["all"], base_url, args.feeds, targets)
                if today_tree is not None:
                    db_urls["today"] = await create_database(args.db_url, "_today")
                    await seed_today(today_tree, db_urls["today"], base_url, args.feeds, targets)
                bench = Bench(args, emu, site, db_urls, workdir, today_tree)
                rounds: list[Round] = []
                for index in range(args.rounds):
                    for config in order_of(args, index):
                        print(f"round {index + 1}: {LABELS[config]} ...", file=sys.stderr, flush=True)
                        rounds.append(await bench.run(config, index))
                return report(args, rounds, seed_s)
        finally:
            await site.stop()
            for db_url in set(db_urls.values()):
                await drop_database(db_url)
            if args.keep_logs:
                print(f"bot logs kept in {workdir}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=3000, help="feeds polled (default 3000)")
    parser.add_argument("--interval", type=int, default=10, help="feeds.interval_s (default 10)")
    parser.add_argument("--fetches", type=int, default=70, help="/fetch interactions per round (default 70)")
    parser.add_argument("--duration", type=float, default=35.0, help="seconds the fetches are spread over")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of polling before the fetches (default: interval)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both configurations, alternating")
    parser.add_argument("--channels", type=int, default=10, help="channels the subscriptions are spread over")
    parser.add_argument("--host-concurrency", type=int, default=64, help="fetch.per_host_concurrency")
    parser.add_argument(
        "--db-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the benchmark's database on",
    )  # fmt: skip
    parser.add_argument(
        "--idle", action="store_true", help="also measure a control: one process with no feed due"
    )
    parser.add_argument(
        "--today",
        metavar="REV",
        help="also measure one process of git revision REV (e.g. c077690^, before the roles) "
        "in the same run, on a database of its own",
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="write the bot's logs and configs to DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 300 feeds at 5 s, 10 fetches over 8 s"
    )
    args = parser.parse_args()
    if args.quick:
        args.feeds, args.interval, args.fetches, args.duration = 300, 5, 10, 8.0
    if args.warmup is None:
        args.warmup = float(args.interval)

    async def guarded() -> dict[str, Any]:
        # Ctrl-C and SIGTERM cancel the run once, so every `finally` stops its processes and the
        # database is dropped; a second signal does not cut that cleanup short. (Handled here
        # rather than left to asyncio.run: a shell starts background jobs with SIGINT ignored.)
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            if not task.cancelling():
                task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupt)
        return await run(args)

    try:
        figures = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("ack_bench: interrupted; processes stopped, database dropped", file=sys.stderr)
        raise SystemExit(130) from None
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
