"""Many rows into one table through the driver's own ``executemany``.

SQLAlchemy's ``executemany`` prepares every parameter set in Python (a walk over a dict per
row and the type processors per value), which for narrow rows is about as much work as the
database's own insert. The poller inserts twenty rows per changed feed, so its hot insert
binds plain tuples instead: the statement is written once per dialect and only the columns
whose type converts values (timestamps) are processed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

_Processors = tuple[tuple[int, Callable[[Any], Any]], ...]


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...)``, optionally ``ON CONFLICT (keys) DO
    NOTHING``, run with rows given as tuples in ``columns`` order.
    """

    def __init__(
        self, table: Table, columns: Sequence[str], *, skip_conflicts_on: Sequence[str] = ()
    ) -> None:
        self._table = table
        self._columns = tuple(columns)
        self._conflict = tuple(skip_conflicts_on)
        self._plans: dict[str, tuple[str, _Processors]] = {}

    async def run(self, conn: AsyncConnection, rows: Iterable[Sequence[Any]]) -> None:
        sql, processors = self._plan(conn.dialect)
        params = []
        # Rows of one batch often share a value object (the batch's "now"): converted once.
        converted: dict[int, tuple[Any, Any]] = {}
        for row in rows:
            values = list(row)
            for index, process in processors:
                value = values[index]
                known = converted.get(id(value))
                if known is None or known[0] is not value:
                    known = converted[id(value)] = (value, process(value))
                values[index] = known[1]
            params.append(tuple(values))
        if params:
            await conn.exec_driver_sql(sql, params)

    def _plan(self, dialect: Dialect) -> tuple[str, _Processors]:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = (self._sql(dialect), self._processors(dialect))
        return plan

    def _sql(self, dialect: Dialect) -> str:
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(quote(c) for c in self._columns)
        markers = _markers(dialect, len(self._columns))
        sql = f"INSERT INTO {quote(self._table.name)} ({columns}) VALUES ({markers})"
        if self._conflict:
            sql += f" ON CONFLICT ({', '.join(quote(c) for c in self._conflict)}) DO NOTHING"
        return sql

    def _processors(self, dialect: Dialect) -> _Processors:
        found = []
        for index, name in enumerate(self._columns):
            process = self._table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                found.append((index, process))
        return tuple(found)


def _markers(dialect: Dialect, count: int) -> str:
    style = dialect.paramstyle
    if style == "qmark":
        return ", ".join("?" * count)
    if style == "numeric_dollar":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    if style == "format":
        return ", ".join(["%s"] * count)
    raise NotImplementedError(f"parameter style {style!r}")
