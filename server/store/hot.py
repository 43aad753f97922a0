"""Statements of the message path, run on SQLite's own cursor.

A profile of the SQLite writer showed three quarters of its time inside SQLAlchemy's execution of
already-compiled statements (building parameters, execution contexts and result objects) and less
than a tenth in SQLite itself. A ``HotStatement`` keeps SQLAlchemy's part where it matters: the
statement is written with SQLAlchemy Core, compiled by SQLAlchemy's SQLite dialect (once per set
of parameter names), and its values go through the column types' own bind and result processors
(JSON through the engine's serializer, booleans as integers). Only the per-call machinery is left
out: the compiled SQL runs on the driver's cursor, in the transaction SQLAlchemy began.

On other connections (PostgreSQL; SQLite through aiosqlite) the same statement runs through
SQLAlchemy as usual, so callers write each operation once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order of the SQL's placeholders
    defaults: tuple[Any, ...]  # values of literals in the statement (``next_seq + 1``)
    binders: tuple[Processor, ...]
    readers: dict[str, Processor]  # result processors by column name


class HotStatement:
    """A Core statement built once at import, for the operations of the message path."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        found = self._plans.get(keys)
        if found is None:
            found = self._plans[keys] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        # An INSERT without .values() lists the columns it is given, as SQLAlchemy does per call.
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        defaults = tuple(compiled.binds[name].value for name in names)
        binders = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        readers = {
            column.name: column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in getattr(self.statement, "exported_columns", ())
        }
        return _Plan(str(compiled), names, defaults, binders, readers)


def _direct(conn: Connection) -> bool:
    """Whether the connection's driver is pysqlite, whose cursor the statements run on (the
    SQLite writer's connection is; aiosqlite's, behind the async engine, is not)."""
    return conn.dialect.driver == "pysqlite"


def _raw(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _arguments(plan: _Plan, params: Mapping[str, Any]) -> tuple[Any, ...]:
    values = []
    for name, default, binder in zip(plan.names, plan.defaults, plan.binders, strict=True):
        value = params.get(name, default)
        values.append(value if binder is None else binder(value))
    return tuple(values)


def _row(plan: _Plan, description: Sequence[Any], values: Sequence[Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, value in zip(description, values, strict=True):
        reader = plan.readers.get(column[0])
        row[column[0]] = value if reader is None or value is None else reader(value)
    return row


def execute(conn: Connection, hot: HotStatement, params: Mapping[str, Any]) -> int:
    """Run a statement that returns no rows; the number of rows it changed."""
    if not _direct(conn):
        return int(conn.execute(hot.statement, dict(params)).rowcount)
    plan = hot.plan(conn.dialect, tuple(params))
    return int(_raw(conn).execute(plan.sql, _arguments(plan, params)).rowcount)


def execute_many(conn: Connection, hot: HotStatement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run a statement once per row of parameters (all rows with the same names)."""
    if not rows:
        return
    if not _direct(conn):
        conn.execute(hot.statement, [dict(row) for row in rows])
        return
    plan = hot.plan(conn.dialect, tuple(rows[0]))
    _raw(conn).executemany(plan.sql, [_arguments(plan, row) for row in rows])


def first(
    conn: Connection, hot: HotStatement, params: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    """The first row a statement (a SELECT, or a change with RETURNING) gives, if any."""
    if not _direct(conn):
        found = conn.execute(hot.statement, dict(params)).first()
        return found._mapping if found is not None else None
    plan = hot.plan(conn.dialect, tuple(params))
    cursor = _raw(conn).execute(plan.sql, _arguments(plan, params))
    values = cursor.fetchone()
    # Drain the cursor: SQLite finishes an UPDATE ... RETURNING only when every row is read.
    cursor.fetchall()
    return None if values is None else _row(plan, cursor.description, values)


def insert_row(conn: Connection, hot: HotStatement, values: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a row given every column's value, and give that row back.

    In place of ``INSERT ... RETURNING``, which SQLite runs through a temporary table: measured,
    it doubles the cost of inserting a message. With every column given, the stored row is the
    values themselves.
    """
    table = getattr(hot.statement, "table", None)
    columns = [column.name for column in getattr(table, "columns", ())]
    missing = [name for name in columns if name not in values]
    if missing:
        raise ValueError(f"insert_row needs every column; missing {missing}")
    execute(conn, hot, values)
    return {name: values[name] for name in columns}


def one(conn: Connection, hot: HotStatement, params: Mapping[str, Any]) -> Mapping[Any, Any]:
    """The row a statement gives; a statement that gives none is an error."""
    row = first(conn, hot, params)
    if row is None:
        raise LookupError(f"no row for {hot.statement}")
    return row


def scalar(conn: Connection, hot: HotStatement, params: Mapping[str, Any]) -> Any:
    """The first column of the first row, or None."""
    row = first(conn, hot, params)
    return None if row is None else next(iter(row.values()))
