"""The database schema, shared by every repository and by alembic autogenerate.

Tables are SQLAlchemy Core ``Table`` objects on one ``MetaData``; repositories
write Core statements against them, so SQLite and PostgreSQL run the same code.
The migrations in ``migrations/versions`` are the source of truth for the DDL:
each spells its tables out rather than importing this module, and a test checks
that this module and the migrations agree.

Conventions for the tables that come next (feeds, subscriptions, per-feed seen
items, the post outbox, digest schedules, stories):

- every timestamp is :class:`UTCDateTime` (timezone-aware UTC in Python);
- structured payloads that are only read whole are :class:`sqlalchemy.JSON`;
- Discord snowflakes are ``BigInteger`` (they do not fit a 32-bit column);
- surrogate keys are ``BigInteger`` identities; natural keys (URLs) are ``Text``;
- constraint and index names come from :data:`NAMING_CONVENTION`, so later
  migrations (batch mode on SQLite) can name what they alter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Dialect, Index, Integer, MetaData, Table, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: A surrogate key: ``BIGINT PRIMARY KEY`` is not SQLite's rowid alias, so it would not autoincrement.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC on the way in and on the way out.

    PostgreSQL stores ``timestamptz``. SQLite has no timestamp type: SQLAlchemy
    stores text, dropping any offset, so we convert to naive UTC before storing
    (keeping the text sortable, hence comparable in SQL) and attach UTC when
    reading. Naive datetimes are refused: their meaning depends on the host.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _aware_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)

    # On SQLite, one step each way instead of ours plus SQLAlchemy's DATETIME processors (a
    # dict-formatting and a regex per value, a tenth of the poller's CPU when it stores items).
    # The text is the same as SQLAlchemy's: "YYYY-MM-DD HH:MM:SS.ffffff", naive UTC.

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_datetime


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite's come back naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        # The common case, without a new datetime: "...ffffff+00:00" less its offset.
        return value.isoformat(" ", "microseconds")[:-6]
    return _aware_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    return _utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


# --- article cache (migration 0001) -----------------------------------------------

article_cache = Table(
    "article_cache",
    metadata,
    # Already canonical (bot.urls.canonicalize_url): the caller's cache key.
    Column("canonical_url", Text, primary_key=True),
    # The URL the page was finally fetched from, after redirects (for debugging).
    Column("url", Text, nullable=True),
    Column("fetched_at", UTCDateTime, nullable=False),
    # Article.to_dict(); only ever read whole, so not split into columns.
    Column("article", JSON, nullable=False),
    # purge() deletes by age.
    Index("ix_article_cache_fetched_at", "fetched_at"),
)


def insert(dialect_name: str, table: Table) -> PostgresInsert | SQLiteInsert:
    """An ``INSERT`` that supports ``on_conflict_do_update`` on this dialect.

    SQLite and PostgreSQL spell the upsert the same way (``ON CONFLICT ... DO
    UPDATE`` with ``excluded``), only the construct lives in each dialect module.
    """
    if dialect_name == "postgresql":
        stmt: PostgresInsert | SQLiteInsert = postgresql.insert(table)
    elif dialect_name == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - Database refuses other dialects
        raise ValueError(f"unsupported dialect {dialect_name!r}")
    return stmt
