"""``newsdesk backup PATH``: an online, consistent copy of the SQLite database (bot/ops/backup.py)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.delivery.message import MessageSpec
from bot.storage import Database
from bot.storage.outbox import OutboxMessage, OutboxStore
from tests.test_cli import assert_one_line_error, run_cli

#: Rows in the database before the backup: enough pages that copying them takes a while.
SEED_PAIRS = 4000


def pair(n: int) -> list[OutboxMessage]:
    """Two rows written in one transaction: a consistent copy has both or neither."""
    body = MessageSpec(content="x" * 400)
    return [OutboxMessage(1, 1, "notice", f"w:{n}:{side}", body) for side in ("a", "b")]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[tuple[Database, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot' / 'newsdesk.db'}"
    db = Database(url)
    try:
        await db.upgrade()
        yield db, url
    finally:
        await db.close()


def keys_in(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT dedup_key FROM outbox")]
    finally:
        conn.close()


def assert_standalone(target: Path) -> None:
    """A standalone SQLite file (no WAL beside it, no partial copy left), sound."""
    assert not Path(f"{target}-wal").exists() and not list(target.parent.glob(".*partial"))
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


async def test_a_backup_while_the_bot_writes_is_one_consistent_snapshot(
    sqlite_db: tuple[Database, str], tmp_path: Path
) -> None:
    db, url = sqlite_db
    store = OutboxStore(db)
    now = datetime.now(UTC)
    for start in range(0, SEED_PAIRS, 500):
        await store.enqueue([m for n in range(start, start + 500) for m in pair(n)], now=now)
    written = SEED_PAIRS
    stop = asyncio.Event()
    # A read transaction open all along (another reader of the bot's): SQLite cannot checkpoint
    # past it, so what is written from now on stays in the -wal file, which a copy of the
    # database file alone would miss.
    reader = sqlite3.connect(tmp_path / "bot" / "newsdesk.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM outbox").fetchone() == (2 * SEED_PAIRS,)

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            await store.enqueue(pair(written), now=now)
            written += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.2)
    before = written
    target = tmp_path / "copies" / "newsdesk-backup.db"
    target.parent.mkdir()
    env = {"NEWSDESK_DATABASE__URL": url}
    try:
        result = await asyncio.to_thread(run_cli, "backup", str(target), env=env, cwd=tmp_path)
        during = written
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
        reader.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backed up {tmp_path / 'bot' / 'newsdesk.db'} to {target} (")
    assert during > before, "the writer wrote while the backup ran"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # Everything committed before the backup began, whole pairs only, nothing after it ended.
    keys = keys_in(target)
    pairs = {key.rsplit(":", 1)[0] for key in keys}
    assert len(keys) == 2 * len(pairs)
    assert before <= len(pairs) <= during
    assert pairs == {f"w:{n}" for n in range(len(pairs))}
    assert_standalone(target)
    # ... that newsdesk opens at the same revision.
    copy = Database(f"sqlite+aiosqlite:///{target}")
    try:
        assert await copy.current_revision() == await db.current_revision()
    finally:
        await copy.close()


async def test_a_backup_never_overwrites_unless_told(sqlite_db: tuple[Database, str], tmp_path: Path) -> None:
    _, url = sqlite_db
    target = tmp_path / "backup.db"
    target.write_text("precious")
    env: dict[str, Any] = {"NEWSDESK_DATABASE__URL": url}
    refused = await asyncio.to_thread(run_cli, "backup", str(target), env=env, cwd=tmp_path)
    assert_one_line_error(refused, f"{target} exists", "--force")
    assert target.read_text() == "precious"
    forced = await asyncio.to_thread(run_cli, "backup", str(target), "--force", env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert keys_in(target) == []
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    itself = await asyncio.to_thread(
        run_cli, "backup", str(tmp_path / "bot" / "newsdesk.db"), "--force", env=env, cwd=tmp_path
    )
    assert_one_line_error(itself, "cannot be the database itself")


def test_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {"NEWSDESK_DATABASE__URL": "postgresql+asyncpg://newsdesk@127.0.0.1:5432/newsdesk"}
    result = run_cli("backup", str(tmp_path / "x.db"), env=env, cwd=tmp_path)
    assert_one_line_error(result, "uses PostgreSQL", "pg_dump")
    assert not (tmp_path / "x.db").exists()


def test_a_missing_sqlite_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "newsdesk.db"
    env = {"NEWSDESK_DATABASE__URL": f"sqlite+aiosqlite:///{missing}"}
    for args in (("backup", str(tmp_path / "x.db")), ("feeds", "list"), ("stats",)):
        assert_one_line_error(run_cli(*args, env=env, cwd=tmp_path), f"no SQLite database at {missing}")
    assert not missing.exists() and not missing.parent.exists()
