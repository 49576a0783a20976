"""Shared pytest fixtures.

Database fixtures
-----------------
``db_url``: the URL of an empty database (nothing migrated) for one test,
parametrized over:

- ``sqlite``: a file in the test's ``tmp_path``;
- ``postgresql``: the ``public`` schema, dropped and recreated before each
  test, of a database ``newsdesk_test_<unix time>_<random>`` created once per
  test run (fixture ``postgres_database``) on the server at
  ``NEWSDESK_TEST_POSTGRES_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``, the database we connect to in
  order to CREATE and DROP ours) and dropped at the end of the run. The random
  name keeps parallel CI runs apart; databases left by killed runs are dropped
  by the next run after 6 hours. One database per run, not per test, because
  CREATE/DROP DATABASE force checkpoints (seconds on a busy machine).
  These params carry the ``postgres`` mark. When the server is unreachable they
  FAIL if the ``CI`` environment variable is set (CI must not skip them
  silently) and skip with the reason otherwise.

``db``: a :class:`bot.storage.Database` on ``db_url``, already upgraded to the
newest schema, closed after the test.

Error logs
----------
Every test fails if it logged an ERROR or CRITICAL record (or the e2e bot's log has
one) that it does not expect: see :mod:`tests.logcheck`. Opt out with
``@pytest.mark.allow_error_logs("pattern", ...)`` (the records whose line matches a
pattern) or ``@pytest.mark.allow_error_logs`` (any).

Property tests
--------------
Hypothesis draws the same examples every run (profile ``repeatable``); set
``NEWSDESK_HYPOTHESIS_EXPLORE=1`` to draw fresh ones each run (500 per test where the
test sets no count of its own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import settings
from sqlalchemy.engine import URL, make_url

from bot.storage import Database
from tests import logcheck

# Property tests draw the same examples on every run, so a run of the suite (CI's included) is
# repeatable; NEWSDESK_HYPOTHESIS_EXPLORE=1 draws fresh ones each run, to hunt bugs.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile("explore" if os.environ.get("NEWSDESK_HYPOTHESIS_EXPLORE") else "repeatable")

POSTGRES_ADMIN_URL = make_url(
    os.environ.get("NEWSDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)

#: A test database older than this is a leftover of a killed run, dropped at the next run.
STALE_AFTER_S = 6 * 3600

T = TypeVar("T")


def _dsn(url: URL, database: str | None = None) -> str:
    url = url.set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _run(call: Callable[[], Awaitable[T]]) -> T:
    # Session fixtures are synchronous and may be set up while a test's event loop
    # runs (from an async fixture): give the coroutine a loop of its own, in a thread.
    async def main() -> T:
        return await call()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(POSTGRES_ADMIN_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_stale_databases() -> None:
    # A killed run cannot drop its database; the name says when it was created.
    conn = await asyncpg.connect(_dsn(POSTGRES_ADMIN_URL), timeout=5)
    try:
        names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'newsdesk\\_test\\_%'")
        for (name,) in names:
            created = re.fullmatch(r"newsdesk_test_(\d{10})_[0-9a-f]{6}", name)
            if created and time.time() - int(created[1]) > STALE_AFTER_S:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A database of its own for this test run (see the module docstring)."""
    name = f"newsdesk_test_{int(time.time())}_{secrets.token_hex(3)}"
    try:
        _run(_drop_stale_databases)
        _run(lambda: _admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as e:
        where = POSTGRES_ADMIN_URL.render_as_string(hide_password=True)
        message = f"PostgreSQL at {where} is unreachable ({type(e).__name__}: {e})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the postgresql tests", pytrace=False)
        pytest.skip(message)
    try:
        yield POSTGRES_ADMIN_URL.set(drivername="postgresql+asyncpg", database=name)
    finally:
        # FORCE: a failed test may have left connections open.
        _run(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database for this test (see the module docstring)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
        return
    yield await empty_postgres(request.getfixturevalue("postgres_database"))


async def empty_postgres(url: URL) -> str:
    """Empty the run's PostgreSQL database (a fresh ``public`` schema); its URL as a string."""
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        # Connections a failed test left behind would hold locks on the schema.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` on ``db_url``, upgraded to the newest schema."""
    database = Database(db_url)
    try:
        await database.upgrade()
        yield database
    finally:
        await database.close()


@pytest.fixture
async def peer(db_url: str) -> AsyncIterator[Database]:
    """Another process's connections to the same database."""
    other = Database(db_url)
    try:
        yield other
    finally:
        await other.close()


@pytest.fixture(autouse=True)
def _no_unexpected_error_logs(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fail the test if it logged an ERROR it does not expect (see the module docstring)."""
    logcheck.reset()
    yield
    marker = request.node.get_closest_marker("allow_error_logs")
    if marker is not None and not marker.args:
        return
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    lines = [logcheck.describe(r) for r in records if r.levelno >= logging.ERROR]
    bad = logcheck.unexpected([*lines, *logcheck.process_errors()], marker.args if marker else ())
    if bad:
        pytest.fail(
            "unexpected ERROR log records (a bug, or mark the test @pytest.mark.allow_error_logs(pattern)):\n"
            + "\n".join(bad),
            pytrace=False,
        )


if os.environ.get("NEWSDESK_TEST_LOOP") == "uvloop":
    # Runs the suite on uvloop, the loop `newsdesk run` uses where installed (the end-to-end
    # tests run the bot on it anyway): NEWSDESK_TEST_LOOP=uvloop python -m pytest
    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> dict[str, Callable[[], Any]]:
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
