"""Many rows through the driver's own ``executemany``.

SQLAlchemy's ``executemany`` prepares every parameter set in Python (a walk over a dict per
row and the type processors per value), which for narrow rows is about as much work as the
database's own statement. The poller inserts twenty rows per changed feed and updates one row
per checked feed, so its hot statements bind plain tuples instead: each is written once per
dialect and only the values whose type converts them (timestamps) are processed.

- :class:`BulkInsert`: ``INSERT`` of rows given in a column order;
- :class:`BulkStatement`: any statement built with SQLAlchemy and named bind parameters
  (an ``UPDATE ... WHERE id = :b_id``), with rows given in a parameter order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

_Processors = tuple[tuple[int, Callable[[Any], Any]], ...]


def _processed_rows(
    rows: Iterable[Sequence[Any]],
    processors: _Processors,
    *,
    constants: tuple[Any, ...] = (),
    arrange: Callable[[list[Any]], tuple[Any, ...]] = tuple,
) -> list[tuple[Any, ...]]:
    """``rows``, each followed by ``constants``, with the values at the processors' indexes
    converted, as ``arrange`` orders them.
    """
    params = []
    # Rows of one batch often share a value object (the batch's "now"): converted once.
    converted: dict[int, tuple[Any, Any]] = {}
    for row in rows:
        values = [*row, *constants]
        for index, process in processors:
            value = values[index]
            known = converted.get(id(value))
            if known is None or known[0] is not value:
                known = converted[id(value)] = (value, process(value))
            values[index] = known[1]
        params.append(arrange(values))
    return params


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
        params = _processed_rows(rows, processors)
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


class BulkStatement:
    """A DML statement with named bind parameters, run with rows given as tuples of those
    parameters' values in ``names`` order. Its other parameters (``.values(failures=0)``)
    keep the constant values they were built with.
    """

    def __init__(self, statement: UpdateBase, names: Sequence[str]) -> None:
        self._statement = statement
        self._names = tuple(names)
        self._plans: dict[str, _StatementPlan] = {}

    async def run(self, conn: AsyncConnection, rows: Iterable[Sequence[Any]]) -> None:
        plan = self._plans.get(conn.dialect.name)
        if plan is None:
            plan = self._plans[conn.dialect.name] = self._compile(conn.dialect)
        sql, constants, processors, arrange = plan
        params = _processed_rows(rows, processors, constants=constants, arrange=arrange)
        if params:
            await conn.exec_driver_sql(sql, params)

    def _compile(self, dialect: Dialect) -> _StatementPlan:
        compiled = self._statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise NotImplementedError(f"parameter style {dialect.paramstyle!r}")
        # A row's values are the given ones, then the constants; each marker takes one of them
        # (a parameter used twice is sent twice where markers are "?").
        index = {name: i for i, name in enumerate(self._names)}
        processors: dict[int, Callable[[Any], Any]] = {}
        constants: list[Any] = []
        sources: list[int] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in index:
                sources.append(index[name])
                if process is not None:
                    processors[index[name]] = process
            elif not bind.required:
                sources.append(len(self._names) + len(constants))
                constants.append(bind.value if process is None else process(bind.value))
            else:
                raise ValueError(f"bind parameter {name!r} is neither given nor constant")
        missing = set(self._names) - set(compiled.positiontup)
        if missing:
            raise ValueError(f"the statement has no parameters {sorted(missing)}")
        arrange = itemgetter(*sources) if len(sources) > 1 else lambda values: (values[sources[0]],)
        return compiled.string, tuple(constants), tuple(processors.items()), arrange


_StatementPlan = tuple[str, tuple[Any, ...], _Processors, Callable[[list[Any]], tuple[Any, ...]]]


def _markers(dialect: Dialect, count: int) -> str:
    style = dialect.paramstyle
    if style == "qmark":
        return ", ".join("?" * count)
    if style == "numeric_dollar":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    if style == "format":
        return ", ".join(["%s"] * count)
    raise NotImplementedError(f"parameter style {style!r}")
