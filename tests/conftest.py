"""Shared pytest fixtures.

Database fixtures
-----------------
``db_url``: the URL of a fresh, empty database (nothing migrated), one per test,
parametrized over:

- ``sqlite``: a file in the test's ``tmp_path``;
- ``postgresql``: a database ``newsdesk_test_<run>_<n>`` created for the test on
  the server at ``NEWSDESK_TEST_POSTGRES_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``, the database we connect to in
  order to CREATE/DROP ours) and dropped afterwards. The random ``<run>`` part
  keeps parallel CI runs and leftovers from colliding. These params carry the
  ``postgres`` mark. When the server is unreachable they FAIL if the ``CI``
  environment variable is set (CI must not skip them silently) and skip with
  the reason otherwise.

``db``: a :class:`bot.storage.Database` on ``db_url``, already upgraded to the
newest schema, closed after the test.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from bot.storage import Database

POSTGRES_ADMIN_URL = make_url(
    os.environ.get("NEWSDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
_RUN_ID = secrets.token_hex(4)
_counter = itertools.count(1)
# Why PostgreSQL was unreachable, once we know, so later tests don't wait again.
_postgres_unreachable: str | None = None


def _admin_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin_connection() -> asyncpg.Connection:
    global _postgres_unreachable
    if _postgres_unreachable is None:
        try:
            return await asyncpg.connect(_admin_dsn(POSTGRES_ADMIN_URL), timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as e:
            _postgres_unreachable = f"{type(e).__name__}: {e}"
    where = POSTGRES_ADMIN_URL.render_as_string(hide_password=True)
    message = f"PostgreSQL at {where} is unreachable ({_postgres_unreachable})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the postgresql tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for this test (see the module docstring)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}"
        return

    name = f"newsdesk_test_{_RUN_ID}_{next(_counter)}"
    admin = await _admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield POSTGRES_ADMIN_URL.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        admin = await _admin_connection()
        try:
            # FORCE: a test that failed may have left connections open.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` on ``db_url``, upgraded to the newest schema."""
    database = Database(db_url)
    try:
        await database.upgrade()
        yield database
    finally:
        await database.close()
