"""Storage: migrations, the Database handle and the article cache, on SQLite and PostgreSQL.

Every test taking ``db`` or ``db_url`` runs on both databases (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.errors import StorageError
from bot.storage import ArticleCache, Database, head_revision
from bot.storage import database as database_module
from bot.storage.article_cache import MAX_KEY_BYTES, is_fresh
from bot.storage.migrate import MIGRATION_LOCK_KEY
from bot.storage.schema import article_cache, metadata
from bot.types import Article

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/2026/03/story"


def make_article(**changes: object) -> Article:
    article = Article(
        url=URL + "?utm_source=x",
        canonical_url=URL,
        title="A story",
        author="A. Writer",
        published=datetime(2026, 2, 28, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        site_name="Example News",
        description="What happened.",
        image_url="https://news.example.com/lead.jpg",
        language="en",
        text="First paragraph.\n\nSecond paragraph.",
        word_count=4,
        reading_minutes=1,
        summary="First paragraph.",
    )
    return replace(article, **changes)


async def count_rows(db: Database) -> int:
    async with db.session() as conn:
        return (await conn.execute(select(func.count()).select_from(article_cache))).scalar_one()


def closed_port() -> int:
    # Bound then closed: nothing listens there for the next instants.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- migrations ---------------------------------------------------------------


async def test_upgrade_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert await db.current_revision() is None
        await db.upgrade()
        head = head_revision()
        assert head is not None
        assert await db.current_revision() == head
        await db.upgrade()
        assert await db.current_revision() == head
        async with db.session() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"alembic_version", "article_cache"} <= tables
    finally:
        await db.close()


async def test_concurrent_upgrades_in_one_process(db_url: str) -> None:
    dbs = [Database(db_url) for _ in range(4)]
    try:
        await asyncio.gather(*(db.upgrade() for db in dbs))
        assert [await db.current_revision() for db in dbs] == [head_revision()] * 4
    finally:
        await asyncio.gather(*(db.close() for db in dbs))


async def test_concurrent_upgrades_in_separate_processes(db_url: str) -> None:
    # Several bot processes starting at once on one database.
    code = (
        "import asyncio, sys\n"
        "from bot.storage import Database\n"
        "async def main():\n"
        "    db = Database(sys.argv[1])\n"
        "    try:\n"
        "        await db.upgrade()\n"
        "    finally:\n"
        "        await db.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, db_url, cwd=REPO, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in results]
    db = Database(db_url)
    try:
        assert await db.current_revision() == head_revision()
    finally:
        await db.close()


async def test_upgrade_waits_for_a_migration_in_progress(db_url: str) -> None:
    # Another process holds the migration lock; the upgrade must wait, not fail or skip it.
    db = Database(db_url)
    url = make_url(db_url)
    if db.dialect_name == "postgresql":
        other = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        await other.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    else:
        other = sqlite3.connect(url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    try:
        upgrade = asyncio.create_task(db.upgrade())
        await asyncio.sleep(0.5)
        assert not upgrade.done()
        if db.dialect_name == "postgresql":
            await other.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        else:
            other.execute("COMMIT")
        await asyncio.wait_for(upgrade, 10)
        assert await db.current_revision() == head_revision()
    finally:
        if isinstance(other, sqlite3.Connection):
            other.close()
        else:
            await other.close()
        await db.close()


async def test_a_schema_newer_than_the_code_is_a_clear_error(db: Database) -> None:
    async with db.session() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StorageError, match=r"revision '9999'.*newer version"):
        await db.upgrade()


async def test_schema_module_matches_the_migrations(db: Database) -> None:
    # schema.py (what repositories query) and versions/ (what is created) must not drift apart.
    def diff(connection: object) -> list[object]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with db.session() as conn:
        assert await conn.run_sync(diff) == []


async def test_alembic_command_line_uses_the_same_migrations(db_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alembic", "-x", f"url={db_url}", "upgrade", "head",
        cwd=REPO, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    db = Database(db_url)
    try:
        assert await db.current_revision() == head_revision()
    finally:
        await db.close()


# --- the article cache ------------------------------------------------------------


async def test_put_then_get_returns_the_same_article(db: Database) -> None:
    cache = ArticleCache(db)
    article = make_article()
    assert await cache.get(URL, now=T0, max_age_s=3600) is None
    await cache.put(URL, article, fetched_at=T0)
    assert await cache.get(URL, now=T0, max_age_s=3600) == article
    assert await cache.get(URL + "/other", now=T0, max_age_s=3600) is None
    entry = await cache.get_entry(URL)
    assert entry is not None
    assert (entry.canonical_url, entry.url, entry.fetched_at) == (URL, article.url, T0)


async def test_get_respects_the_maximum_age(db: Database) -> None:
    cache = ArticleCache(db)
    await cache.put(URL, make_article(), fetched_at=T0)
    ttl = 6 * 3600
    assert await cache.get(URL, now=T0 + timedelta(seconds=ttl - 1), max_age_s=ttl) is not None
    assert await cache.get(URL, now=T0 + timedelta(seconds=ttl), max_age_s=ttl) is None
    assert await cache.get(URL, now=T0 + timedelta(days=3), max_age_s=ttl) is None
    assert await cache.get(URL, now=T0, max_age_s=0) is None  # 0 = caching off


def test_is_fresh() -> None:
    assert is_fresh(T0, now=T0, max_age_s=1)
    assert not is_fresh(T0, now=T0 + timedelta(seconds=1), max_age_s=1)
    assert is_fresh(T0 + timedelta(minutes=5), now=T0, max_age_s=60)  # our clock behind
    assert not is_fresh(T0, now=T0, max_age_s=0)
    assert not is_fresh(T0, now=T0, max_age_s=-5)


async def test_put_replaces_an_older_entry_but_not_a_newer_one(db: Database) -> None:
    cache = ArticleCache(db)
    first, second, late = make_article(title="v1"), make_article(title="v2"), make_article(title="late")
    await cache.put(URL, first, fetched_at=T0)
    await cache.put(URL, second, fetched_at=T0 + timedelta(hours=1))
    assert await cache.get(URL, now=T0 + timedelta(hours=1), max_age_s=60) == second
    # A slow fetch that started earlier finishes last: the newer copy stays.
    await cache.put(URL, late, fetched_at=T0 + timedelta(minutes=30))
    entry = await cache.get_entry(URL)
    assert entry is not None
    assert (entry.article.title, entry.fetched_at) == ("v2", T0 + timedelta(hours=1))
    assert await count_rows(db) == 1


async def test_purge_deletes_only_older_entries(db: Database) -> None:
    cache = ArticleCache(db)
    for hours in (3, 2, 1):
        await cache.put(f"{URL}/{hours}", make_article(), fetched_at=T0 - timedelta(hours=hours))
    assert await cache.purge(older_than=T0 - timedelta(minutes=90)) == 2
    assert await cache.get_entry(f"{URL}/3") is None
    assert await cache.get_entry(f"{URL}/2") is None
    assert await cache.get_entry(f"{URL}/1") is not None
    assert await cache.purge(older_than=T0 - timedelta(minutes=90)) == 0
    assert await count_rows(db) == 1


async def test_timestamps_round_trip_as_aware_utc_whatever_the_offset(db: Database) -> None:
    cache = ArticleCache(db)
    plus_two = timezone(timedelta(hours=2))
    minus_five = timezone(timedelta(hours=-5))
    # 10:00+02:00 is 08:00Z; 05:00-05:00 is 10:00Z. Compared as local text they'd sort the other way.
    await cache.put(f"{URL}/a", make_article(), fetched_at=datetime(2026, 3, 1, 10, 0, tzinfo=plus_two))
    await cache.put(f"{URL}/b", make_article(), fetched_at=datetime(2026, 3, 1, 5, 0, tzinfo=minus_five))
    entry = await cache.get_entry(f"{URL}/a")
    assert entry is not None
    assert entry.fetched_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert entry.fetched_at.utcoffset() == timedelta(0)
    assert entry.article.published == make_article().published
    assert await cache.purge(older_than=datetime(2026, 3, 1, 4, 0, tzinfo=minus_five)) == 1  # 09:00Z
    assert await cache.get_entry(f"{URL}/a") is None
    assert await cache.get_entry(f"{URL}/b") is not None


async def test_non_ascii_text_and_urls(db: Database) -> None:
    cache = ArticleCache(db)
    url = "https://例え.jp/記事/ünïcødé?q=straße"
    article = make_article(
        url=url,
        canonical_url=url,
        title="東京で会議 — «Débat» 🗞️",
        author="Zoë Ångström",
        # NUL and a lone surrogate too: JSON escapes them (JSONB or a text column would refuse them).
        text="مرحبا بالعالم\n\nПривет, мир. Combining: e\u0301. Emoji: 👩‍👩‍👧. NUL: \x00. Lone: \ud800.",
        summary="Привет, мир.",
    )
    await cache.put(url, article, fetched_at=T0)
    assert await cache.get(url, now=T0, max_age_s=60) == article


async def test_naive_datetimes_are_refused(db: Database) -> None:
    cache = ArticleCache(db)
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        await cache.put(URL, make_article(), fetched_at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await cache.get(URL, now=naive, max_age_s=60)
    with pytest.raises(ValueError, match="timezone-aware"):
        await cache.purge(older_than=naive)
    assert await count_rows(db) == 0


async def test_urls_too_long_to_index_are_not_cached(db: Database) -> None:
    cache = ArticleCache(db)
    longest = URL + "?q=" + "x" * (MAX_KEY_BYTES - len(URL) - 3)
    assert len(longest.encode()) == MAX_KEY_BYTES
    await cache.put(longest, make_article(), fetched_at=T0)
    assert await cache.get(longest, now=T0, max_age_s=60) is not None
    await cache.put(longest + "y", make_article(), fetched_at=T0)
    assert await cache.get(longest + "y", now=T0, max_age_s=60) is None
    assert await count_rows(db) == 1


async def test_an_entry_that_no_longer_decodes_is_a_miss(db: Database) -> None:
    cache = ArticleCache(db)
    async with db.session() as conn:
        await conn.execute(
            article_cache.insert().values(canonical_url=URL, url=URL, fetched_at=T0, article={"title": "old"})
        )
    assert await cache.get(URL, now=T0, max_age_s=60) is None
    await cache.put(URL, make_article(), fetched_at=T0)
    assert await cache.get(URL, now=T0, max_age_s=60) == make_article()


async def test_many_concurrent_writers_and_readers(db: Database) -> None:
    cache = ArticleCache(db)

    async def put_then_get(i: int) -> Article | None:
        await cache.put(f"{URL}/{i}", make_article(title=f"t{i}"), fetched_at=T0)
        return await cache.get(f"{URL}/{i}", now=T0, max_age_s=60)

    articles = await asyncio.gather(*(put_then_get(i) for i in range(60)))
    assert [a.title if a else None for a in articles] == [f"t{i}" for i in range(60)]
    assert await count_rows(db) == 60


# --- the Database handle ---------------------------------------------------------


async def test_session_commits_or_rolls_back(db: Database) -> None:
    row = {"canonical_url": URL, "url": URL, "fetched_at": T0, "article": make_article().to_dict()}
    with pytest.raises(RuntimeError):
        async with db.session() as conn:
            await conn.execute(article_cache.insert().values(**row))
            raise RuntimeError("boom")
    assert await count_rows(db) == 0
    async with db.session() as conn:
        await conn.execute(article_cache.insert().values(**row))
    assert await count_rows(db) == 1


async def test_query_errors_become_storage_errors(db: Database) -> None:
    with pytest.raises(StorageError, match="no_such_table") as info:
        async with db.session() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
    assert isinstance(info.value.__cause__, DBAPIError)
    assert "Background on this error" not in str(info.value)


async def test_unreachable_postgresql_is_a_clear_storage_error() -> None:
    port = closed_port()
    db = Database(f"postgresql+asyncpg://newsdesk:s3cret@127.0.0.1:{port}/newsdesk")
    cache = ArticleCache(db)
    try:
        for call in (db.upgrade(), db.current_revision(), cache.get(URL, now=T0, max_age_s=60)):
            with pytest.raises(
                StorageError, match=rf"cannot connect to the database .*127\.0\.0\.1:{port}"
            ) as info:
                await call
            assert "s3cret" not in str(info.value)
            assert isinstance(info.value.__cause__, OSError)
    finally:
        await db.close()


async def test_a_silent_postgresql_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that accepts connections and never answers (a hung or firewalled host).
    monkeypatch.setattr(database_module, "POSTGRES_CONNECT_TIMEOUT_S", 0.5)
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/newsdesk")
    try:
        start = asyncio.get_running_loop().time()
        with pytest.raises(StorageError, match=r"cannot connect to the database .*timed out"):
            await db.current_revision()
        assert asyncio.get_running_loop().time() - start < 5
        assert accepted
    finally:
        await db.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_unopenable_sqlite_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create the folder"):
        Database(f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'newsdesk.db'}")
    (tmp_path / "a-folder.db").mkdir()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'a-folder.db'}")
    try:
        with pytest.raises(StorageError, match=r"cannot connect to the database .*unable to open"):
            await db.upgrade()
    finally:
        await db.close()
        # aiosqlite stops the worker thread of a failed connection asynchronously; let it
        # finish while the loop is alive, or it reports "Event loop is closed" from its thread.
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)


@pytest.mark.parametrize(
    "url", ["mysql+aiomysql://u@127.0.0.1/db", "sqlite:///sync-driver.db", "postgresql://u@h/db", "not a url"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageError, match="database URL"):
        Database(url)


def test_url_errors_hide_the_password() -> None:
    with pytest.raises(StorageError) as info:
        Database("mysql+aiomysql://newsdesk:s3cret@127.0.0.1/newsdesk")
    assert "s3cret" not in str(info.value)
    assert "newsdesk:***@127.0.0.1" in str(info.value)


async def test_sqlite_is_set_up_for_concurrency(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dirs' / 'newsdesk.db'}")
    try:
        async with db.session() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000, "synchronous": 1}
        assert (tmp_path / "nested" / "dirs" / "newsdesk.db").is_file()
    finally:
        await db.close()


async def test_sqlite_write_session_holds_the_write_lock_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "newsdesk.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        await db.upgrade()
        async with db.session(write=True) as conn:
            await conn.execute(select(func.count()).select_from(article_cache))  # reads only
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        async with db.session() as conn:  # a plain session takes no lock for a read
            await conn.execute(select(func.count()).select_from(article_cache))
            other.execute("BEGIN IMMEDIATE")
            other.execute("COMMIT")
    finally:
        other.close()
        await db.close()


SQLITE_FILES = ("newsdesk.db", "newsdesk.db-wal", "newsdesk.db-shm")


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems run with (022): files are made readable by everyone unless told."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def sqlite_file_modes(path: Path) -> dict[str, int]:
    """Start the storage on ``path`` and write once; the modes of the database and its WAL files."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.upgrade()
        async with db.session(write=True) as conn:
            await conn.execute(article_cache.delete())
            # While a connection is open: SQLite deletes the -wal and -shm files with the last one.
            return {name: stat.S_IMODE(path.with_name(name).stat().st_mode) for name in SQLITE_FILES}
    finally:
        await db.close()


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "newsdesk.db"
    assert await sqlite_file_modes(path) == dict.fromkeys(SQLITE_FILES, 0o600)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.usefixtures("usual_umask")
async def test_an_sqlite_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "newsdesk.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    for name in SQLITE_FILES:  # as an earlier version left them
        path.with_name(name).touch()
        path.with_name(name).chmod(0o644)
    assert await sqlite_file_modes(path) == dict.fromkeys(SQLITE_FILES, 0o600)
