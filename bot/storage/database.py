"""The database handle: one async engine, set up the same way for every caller.

SQLite (the default) and PostgreSQL run the same code. What differs is set up
here once: SQLite gets WAL, foreign keys, a busy timeout and SQLAlchemy-driven
``BEGIN`` (so DDL and SELECTs are transactional too); PostgreSQL gets a connect
timeout and pre-ping, so a restarted server costs one reconnect, not an error.

Every driver error leaving this package is a :class:`~bot.errors.StorageError`
whose message names the database (password hidden) and the reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.errors import StorageError

log = logging.getLogger(__name__)

#: How long an SQLite statement waits for another connection's write lock.
SQLITE_BUSY_TIMEOUT_S = 15.0
#: How long connecting to PostgreSQL may take (asyncpg's own default is 60 s).
POSTGRES_CONNECT_TIMEOUT_S = 10.0

_SUPPORTED = {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}
# asyncpg lets OSError (refused, unreachable) and TimeoutError escape SQLAlchemy unwrapped.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)
# Execution option read by the SQLite "begin" hook.
_SQLITE_WRITE_OPTION = "newsdesk_sqlite_write"
# The SQLite database holds every server's subscriptions and settings: its owner only.
_PRIVATE_FILE_MODE = 0o600
_PRIVATE_FOLDER_MODE = 0o700
_SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class Database:
    """An async SQLAlchemy engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``.

    Creating it connects to nothing (an SQLite file is created, empty and readable by
    its owner only, in a folder likewise); the first query, :meth:`upgrade` or
    :meth:`session` does.
    Raises :class:`StorageError` for a malformed or unsupported URL, or when the
    SQLite folder cannot be created.
    """

    engine: AsyncEngine
    #: ``"sqlite"`` or ``"postgresql"``.
    dialect_name: str
    #: The URL with its password hidden, for messages and logs.
    display_url: str

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            # Not quoting the URL: it may hold a password.
            raise StorageError(f"invalid database URL: {e}") from e
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
        self.display_url = parsed.render_as_string(hide_password=True)
        if (backend, driver) not in _SUPPORTED:
            raise StorageError(
                f"unsupported database URL {self.display_url}: "
                "use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db"
            )
        self.dialect_name = backend

        options: dict[str, Any]
        if backend == "sqlite":
            _create_private_sqlite_file(parsed)
            # sqlite3's `timeout` is the busy timeout; set again as a pragma below.
            options = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        else:
            options = {"connect_args": {"timeout": POSTGRES_CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
        try:
            self.engine = create_async_engine(parsed, echo=echo, **options)
        except (ArgumentError, ImportError) as e:
            raise StorageError(f"cannot use database URL {self.display_url}: {e}") from e
        if backend == "sqlite":
            _install_sqlite_hooks(self.engine)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    def session(self, *, write: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        """``async with db.session() as conn:`` one transaction on one connection.

        Yields an :class:`~sqlalchemy.ext.asyncio.AsyncConnection` (SQLAlchemy
        Core, no ORM) inside a transaction that commits when the block ends and
        rolls back if it raises. Driver errors raised in the block, or while
        connecting, come out as :class:`StorageError`; other exceptions pass
        through unchanged.

        ``write=True`` marks a transaction that writes. On SQLite it takes the
        write lock at ``BEGIN`` (``BEGIN IMMEDIATE``): a transaction that reads
        first and writes later would otherwise fail at once if another connection
        wrote in between. PostgreSQL ignores it. Required for read-then-write
        transactions, harmless for single-statement writes. Don't nest sessions:
        on SQLite an inner writer waits for the outer one until the busy timeout.

        Called by the repositories (e.g. :class:`~bot.storage.ArticleCache`).
        """
        return self._transaction(write=write)

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        try:
            conn = await self.engine.connect()
        except DRIVER_ERRORS as e:
            raise StorageError(f"cannot connect to the database {self.display_url}: {reason(e)}") from e
        try:
            if write and self.dialect_name == "sqlite":
                await conn.execution_options(**{_SQLITE_WRITE_OPTION: True})
            async with conn.begin():
                yield conn
        except DRIVER_ERRORS as e:
            raise StorageError(f"database error on {self.display_url}: {reason(e)}") from e
        finally:
            await _close_quietly(conn)

    async def upgrade(self) -> None:
        """Migrate the schema to the newest revision (``alembic upgrade head``).

        Idempotent, and safe when several processes start at once: upgrades are
        serialised (PostgreSQL advisory lock, SQLite write lock) and the later
        ones find nothing to do. Called at start and by ``newsdesk db upgrade``.
        Raises :class:`StorageError` (unreachable database, failed migration, or
        a schema newer than this code).
        """
        from bot.storage import migrate  # migrate imports this module

        await migrate.upgrade(self)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at; ``None`` before the first upgrade.

        Called by ``newsdesk db current`` and the tests. Raises :class:`StorageError`.
        """
        from bot.storage import migrate

        return await migrate.current_revision(self)

    async def close(self) -> None:
        """Close every pooled connection. Called once at shutdown; never raises."""
        try:
            await self.engine.dispose()
        except DRIVER_ERRORS as e:
            log.warning("closing %s failed: %s", self.display_url, reason(e))


async def serialise_on(conn: AsyncConnection, space: int, key: object) -> None:
    """Make concurrent transactions touching ``key`` (within the lock namespace ``space``) run
    one after the other, until the caller's transaction ends: a PostgreSQL advisory lock.
    Nothing on SQLite, whose write transactions are serialised already.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"), {"space": space, "key": str(key)}
        )


def reason(error: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement dump and links."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, TimeoutError):
        return f"timed out{': ' + text if text else ''}"
    return text or type(error).__name__


async def _close_quietly(conn: AsyncConnection) -> None:
    # Returning a broken connection to the pool must not hide the error that broke it.
    try:
        await conn.close()
    except DRIVER_ERRORS as e:
        log.debug("closing a connection failed: %s", reason(e))


def _create_private_sqlite_file(url: URL) -> None:
    """Create the SQLite file (0600) and its folder (0700) before SQLite does, whatever the umask.

    SQLite gives the -wal, -shm and -journal files it makes the database file's mode, so they
    are private too. Files made by an earlier version, readable by others, are tightened.
    """
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(mode=_PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"cannot create the folder {folder} for the SQLite database: {e}") from e
    # Not a file we may write (a folder, a read-only file): SQLite says why when it connects.
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, _PRIVATE_FILE_MODE))
    for suffix in _SQLITE_FILE_SUFFIXES:
        _make_private(Path(database + suffix))


def _make_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except FileNotFoundError:
        return
    except OSError as e:
        log.warning("cannot make %s readable by its owner only: %s", path, e)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    busy_timeout_ms = int(SQLITE_BUSY_TIMEOUT_S * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop sqlite3 from issuing BEGIN itself: it skips it for SELECT and DDL,
        # which would make migrations non-transactional. _on_begin issues it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Busy timeout first: switching to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            # WAL: readers never block the writer, and a crash cannot corrupt the file.
            cursor.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable enough under WAL (a power cut may lose the last commits).
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_SQLITE_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
