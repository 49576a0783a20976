"""Outbox wake-up benchmark: how long a queued post waits before it is sent, not a test.

    python3 -m bench.wake_bench [--posts 200] [--channels 10] [--gap-ms 100] [--postgres URL]

On PostgreSQL, this process queues ``posts`` posts one at a time, a random 0 to ``gap-ms``
apart, while the dispatcher of a worker process (this module, started with ``--worker``) sends
them through an in-memory publisher that answers at once. The latency of a post is from its
``enqueue`` call to the publisher's ``send`` (both read CLOCK_MONOTONIC, one clock for the
machine). Two modes, measured in the same run on a scratch database: the dispatcher's own poll
(every 1 s, its default) alone, and the same dispatcher woken by
:class:`~bot.storage.notify.OutboxListener` (``LISTEN/NOTIFY``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from datetime import UTC, datetime

from bench._lag import percentile
from bot.delivery.dispatcher import OutboxDispatcher
from bot.delivery.memory import MemoryPublisher
from bot.delivery.message import MessageSpec
from bot.storage.database import Database
from bot.storage.notify import OutboxListener
from bot.storage.outbox import OutboxMessage, OutboxStore

#: How long the dispatcher may take to send the last post before the run is called failed.
_DRAIN_TIMEOUT_S = 60.0


class _RecordingPublisher(MemoryPublisher):
    """Notes when each post (its content is its key) was handed to Discord."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: dict[str, float] = {}
        self.progress = asyncio.Event()

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str) -> int:
        self.sent_at.setdefault(spec.content or "", time.perf_counter())
        self.progress.set()
        return await super().send(channel_id, spec, nonce=nonce)


async def _worker(url: str, *, listen: bool, posts: int) -> None:
    """The worker process: deliver ``posts`` posts, then print when each was sent (JSON)."""
    db = Database(url)
    publisher = _RecordingPublisher()
    dispatcher = OutboxDispatcher(OutboxStore(db), publisher, clock=lambda: datetime.now(UTC))
    listener = OutboxListener(db, dispatcher.notify)
    try:
        if listen:
            await listener.start()
            await listener.wait_listening(10)
        task = asyncio.create_task(dispatcher.run())
        await asyncio.sleep(0.5)  # its first round (nothing to send) is over
        print("ready", flush=True)
        async with asyncio.timeout(_DRAIN_TIMEOUT_S + posts):
            while len(publisher.sent_at) < posts:
                publisher.progress.clear()
                await publisher.progress.wait()
        await dispatcher.stop()
        await task
    finally:
        await listener.stop()
        await db.close()
    print(json.dumps({"sent_at": publisher.sent_at, "notifications": listener.notifications}), flush=True)


async def _measure(
    url: str, *, label: str, listen: bool, posts: int, channels: int, gap_s: float
) -> dict[str, float]:
    """Queue ``posts`` posts from this process while a worker process sends them."""
    command = [sys.executable, "-m", "bench.wake_bench", "--worker", url, "--posts", str(posts)]
    worker = await asyncio.create_subprocess_exec(
        *command, *(["--listen"] if listen else []), stdout=asyncio.subprocess.PIPE
    )
    assert worker.stdout is not None
    producer = Database(url)
    rng = random.Random(7)  # the same gaps in both modes
    queued_at: dict[str, float] = {}
    enqueue_s: list[float] = []
    try:
        async with asyncio.timeout(30):
            assert (await worker.stdout.readline()).strip() == b"ready"
        store = OutboxStore(producer)
        for n in range(posts):
            key = f"{label}:{n}"
            channel = 1000 + n % channels
            message = OutboxMessage(channel, channel << 22, "feed_item", key, MessageSpec(content=key))
            start = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in both processes
            queued_at[key] = start
            await store.enqueue([message], now=datetime.now(UTC))
            enqueue_s.append(time.perf_counter() - start)
            await asyncio.sleep(rng.uniform(0, gap_s))
        async with asyncio.timeout(_DRAIN_TIMEOUT_S + posts):
            report = json.loads(await worker.stdout.readline())
            await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        await producer.close()
    latencies = [report["sent_at"][key] - at for key, at in queued_at.items()]
    return {
        "median": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "enqueue_median": percentile(enqueue_s, 0.5),
        "notifications": float(report["notifications"]),
    }


async def _postgres(
    admin_url: str, posts: int, channels: int, gap_s: float
) -> dict[str, dict[str, float]] | None:
    import asyncpg

    name = f"newsdesk_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(admin_url, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as e:
        print(f"postgresql: skipped ({e})")
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        url = f"{base}/{name}"
        setup = Database(url)
        try:
            await setup.upgrade()
        finally:
            await setup.close()
        options = {"posts": posts, "channels": channels, "gap_s": gap_s}
        return {
            "poll 1 s (baseline)": await _measure(url, label="poll", listen=False, **options),
            "LISTEN/NOTIFY": await _measure(url, label="notify", listen=True, **options),
        }
    finally:
        admin = await asyncpg.connect(admin_url, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--gap-ms", type=float, default=100.0, help="most time between two posts")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)  # the worker process
    parser.add_argument("--listen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        await _worker(args.worker, listen=args.listen, posts=args.posts)
        return
    results = await _postgres(args.postgres, args.posts, args.channels, args.gap_ms / 1000)
    if results is None:
        return
    print(
        f"{args.posts} posts queued one at a time, 0-{args.gap_ms:g} ms apart, over {args.channels} channels;"
        " enqueue call to send, PostgreSQL, dispatcher (another process) poll 1 s"
    )
    print(f"{'':>20}  {'median':>8}  {'p95':>8}  {'max':>8}  {'enqueue':>8}  notifications")
    for name, f in results.items():
        print(
            f"{name:>20}  {f['median'] * 1000:6.1f}ms  {f['p95'] * 1000:6.1f}ms  {f['max'] * 1000:6.1f}ms"
            f"  {f['enqueue_median'] * 1000:6.1f}ms  {f['notifications']:.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
