"""Schema migrations: alembic, run from code on the bot's own async engine.

The alembic :class:`~alembic.config.Config` is built here, pointing at the
``migrations`` folder inside this package, so migrations run from an installed
wheel without an ``alembic.ini``. Each upgrade is one transaction (both
databases have transactional DDL), so a failed migration leaves the schema as
it was.

Concurrent starts: on PostgreSQL the transaction first takes an advisory lock,
on SQLite it begins with ``BEGIN IMMEDIATE`` (the database's single write
lock). Either way the second process waits, then finds the schema at head and
does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StorageError
from bot.storage.database import Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key serialising upgrades ("newsdesk" in ASCII).
MIGRATION_LOCK_KEY = int.from_bytes(b"newsdesk", "big")
#: How long an SQLite upgrade keeps retrying while another process holds the write lock.
SQLITE_LOCK_WAIT_S = 300.0


def alembic_config(url: str | None = None) -> Config:
    """An alembic config for this package's migrations; no ``alembic.ini`` needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation: a literal % (e.g. in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this code. Reads the migration files."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade ``db`` to ``revision``; see :meth:`Database.upgrade`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SQLITE_LOCK_WAIT_S
    while True:
        try:
            async with db.session(write=True) as conn:
                await _lock(conn, db)
                # Only now, under the lock: alembic keeps its running context in
                # module globals, so two upgrades in one process must not interleave.
                await conn.run_sync(_upgrade, revision)
            return
        except StorageError as e:
            # SQLite's busy timeout ran out while another process migrates (or
            # writes): everything was rolled back, so trying again is safe.
            if not _sqlite_locked(db, e) or loop.time() > deadline:
                raise
            log.info("database %s is locked by another process; retrying the upgrade", db.display_url)


async def current_revision(db: Database) -> str | None:
    """The revision ``db`` is at; see :meth:`Database.current_revision`."""
    async with db.session() as conn:
        return await conn.run_sync(_current_revision)


async def _lock(conn: AsyncConnection, db: Database) -> None:
    if db.dialect_name != "postgresql":
        return  # BEGIN IMMEDIATE (session(write=True)) already holds SQLite's write lock
    key = {"key": MIGRATION_LOCK_KEY}
    got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key)).scalar_one()
    if not got:
        log.info("another process is migrating %s; waiting for it", db.display_url)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    # env.py runs the migrations on this connection, inside our transaction.
    config.attributes["connection"] = connection
    before = _current_revision(connection)
    try:
        command.upgrade(config, revision)
    except CommandError as e:
        raise StorageError(_explain(e, before)) from e
    after = _current_revision(connection)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _explain(error: CommandError, current: str | None) -> str:
    if current is not None and "locate revision" in str(error):
        return (
            f"the database schema is at revision {current!r}, which this version of newsdesk "
            "does not know (was it upgraded by a newer version?)"
        )
    return f"database migration failed: {error}"


def _sqlite_locked(db: Database, error: StorageError) -> bool:
    return db.dialect_name == "sqlite" and "database is locked" in str(error)
