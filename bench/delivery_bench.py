"""Outbox micro-benchmark: enqueue and delivery throughput, not a test.

    python3 -m bench.delivery_bench [--rows 5000] [--channels 50] [--postgres URL]

Enqueues ``rows`` messages over ``channels`` channels (batches of 100, as a
feed poll fans out), then delivers them through an in-memory publisher that
answers at once, so the figures are the outbox's own cost (database round
trips per row), the ceiling above Discord's rate limits. SQLite runs in a
temporary folder; PostgreSQL on a scratch database created and dropped on the
server given (default: the test server on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.delivery.dispatcher import OutboxDispatcher
from bot.delivery.memory import MemoryPublisher
from bot.delivery.message import EmbedSpec, MessageSpec
from bot.storage.database import Database
from bot.storage.outbox import OutboxMessage, OutboxStore


class _CountingPublisher(MemoryPublisher):
    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.done = asyncio.Event()

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str) -> int:
        message_id = await super().send(channel_id, spec, nonce=nonce)
        if len(self.messages) >= self.expected:
            self.done.set()
        return message_id


def _messages(rows: int, channels: int) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            channel_id=1000 + n % channels,
            guild_id=(n % channels) << 22,
            kind="feed_item",
            dedup_key=f"bench:{n}",
            spec=MessageSpec(
                embeds=(
                    EmbedSpec(
                        title=f"Story number {n}",
                        url=f"https://news.example/{n}",
                        description="A summary of about two lines of text, cut at a word boundary. " * 3,
                        author_name="Example News",
                    ),
                )
            ),
        )
        for n in range(rows)
    ]


async def _run(url: str, rows: int, channels: int, concurrency: int) -> dict[str, float]:
    db = Database(url)
    try:
        await db.upgrade()
        store = OutboxStore(db)
        messages = _messages(rows, channels)
        start = time.perf_counter()
        for i in range(0, rows, 100):
            await store.enqueue(messages[i : i + 100], now=datetime.now(UTC))
        enqueue_s = time.perf_counter() - start

        publisher = _CountingPublisher(rows)
        dispatcher = OutboxDispatcher(
            store, publisher, clock=lambda: datetime.now(UTC), concurrency=concurrency, poll_interval_s=0.05
        )
        cpu = time.process_time()
        start = time.perf_counter()
        task = asyncio.create_task(dispatcher.run())
        # Not drain(): its polling would add database work a running bot does not do.
        await asyncio.wait_for(publisher.done.wait(), 600)
        deliver_s = time.perf_counter() - start
        cpu = time.process_time() - cpu
        await dispatcher.stop()
        await task
        assert len(publisher.messages) == rows, (len(publisher.messages), rows)
        return {
            "enqueue_rows_s": rows / enqueue_s,
            "deliver_rows_s": rows / deliver_s,
            "deliver_cpu_ms_per_row": 1000 * cpu / rows,
        }
    finally:
        await db.close()


async def _postgres(admin_url: str, rows: int, channels: int, concurrency: int) -> dict[str, float] | None:
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
        return await _run(f"{base}/{name}", rows, channels, concurrency)
    finally:
        admin = await asyncpg.connect(admin_url, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        results = {"sqlite": await _run(url, args.rows, args.channels, args.concurrency)}
    pg = await _postgres(args.postgres, args.rows, args.channels, args.concurrency)
    if pg is not None:
        results["postgresql"] = pg
    print(f"{args.rows} rows, {args.channels} channels, concurrency {args.concurrency}")
    for name, figures in results.items():
        print(
            f"{name:>10}: enqueue {figures['enqueue_rows_s']:8.0f} rows/s   "
            f"deliver {figures['deliver_rows_s']:6.0f} rows/s   "
            f"{figures['deliver_cpu_ms_per_row']:.2f} ms CPU/row"
        )


if __name__ == "__main__":
    asyncio.run(main())
