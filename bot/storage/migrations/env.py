"""Alembic environment for newsdesk.

Two ways in:

- from the bot (``Database.upgrade``, ``newsdesk db upgrade``): ``bot.storage.migrate``
  puts a connection, already in a locked transaction, in
  ``config.attributes["connection"]``; we run the migrations on it;
- from the ``alembic`` command line (developers: ``alembic revision
  --autogenerate``, ``alembic upgrade head``, ``alembic upgrade head --sql``):
  the URL is ``-x url=...`` or ``sqlalchemy.url`` from ``alembic.ini``, and we
  open it through :class:`bot.storage.Database`, so the SQLite settings and the
  migration lock are the same as the bot's.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from bot.storage.schema import metadata

config = context.config


def _configure(
    *,
    connection: Connection | None = None,
    url: str | None = None,
    literal_binds: bool = False,
    dialect_opts: dict[str, Any] | None = None,
) -> None:
    context.configure(
        connection=connection,
        url=url,
        literal_binds=literal_binds,
        dialect_opts=dialect_opts,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=True,
        # SQLite has transactional DDL once sqlite3's own BEGIN handling is off.
        transactional_ddl=True,
        compare_type=True,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set sqlalchemy.url in alembic.ini")
    return url


async def _run_from_command_line(url: str) -> None:
    from bot.storage.database import Database
    from bot.storage.migrate import MIGRATION_LOCK_KEY

    db = Database(url)
    try:
        async with db.session(write=True) as conn:
            if db.dialect_name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            await conn.run_sync(_run_on)
    finally:
        await db.close()


connection = config.attributes.get("connection")
if connection is None and config.config_file_name is not None:
    # The command line: log as alembic.ini says. The bot has its own logging set up.
    fileConfig(config.config_file_name)

if connection is not None:
    _run_on(connection)
elif context.is_offline_mode():
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_from_command_line(_url()))
