"""The hottest statements, run on asyncpg through SQLAlchemy's own connection adapter.

Measured on this project's machines, a statement through `AsyncConnection.execute` costs about
four times the CPU of the same prepared statement on asyncpg (the execution context, the
greenlet hop, result processing): a payment's lifecycle spent more CPU in that machinery than
in anything it does itself. The statements every call writes (infra/db/commit_writes.py) are
therefore compiled once by SQLAlchemy - the same SQL, casts and bind processors it would use -
and run on the connection's asyncpg adapter, which keeps what matters of the normal path:

- the transaction: SQLAlchemy's is begun as `execute` would (autobegin), and the adapter
  sends BEGIN lazily unless the connection is in autocommit;
- the adapter's prepared-statement cache and its lock;
- errors translated as SQLAlchemy translates them (DBAPIError subclasses), and a connection
  found dead invalidated, so the pool never hands it out again;
- the engine's `before_cursor_execute` listeners (statement counts, tracing) see it.

A statement that is its transaction on its own (a plain read, or a commit's writes, before
anything else of their unit of work) runs *alone*: with no transaction begun, neither
SQLAlchemy's nor the adapter's, asyncpg runs it in autocommit. Setting SQLAlchemy's
AUTOCOMMIT isolation level for it, committing and setting the level back cost more CPU than
the statement (three greenlet hops, and a reset when the connection goes back to the pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ClauseElement
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler


class DriverStatement:
    """One statement compiled for one dialect: its SQL, its parameters' order and their bind
    processors."""

    def __init__(self, clause: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, clause.compile(dialect=dialect))
        self.sql = compiled.string
        self.dialect = dialect
        processors: Mapping[str, Any] = compiled._bind_processors
        self._order: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, processors.get(name)) for name in compiled.positiontup or ()
        ]
        # Values written into the statement itself (`.values(state="...")`).
        self._fixed = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required
        }

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = [params[n] if n in params else self._fixed[n] for n, _ in self._order]
        return [
            value if process is None else process(value)
            for value, (_, process) in zip(values, self._order, strict=True)
        ]


class DriverQuery(DriverStatement):
    """A SELECT whose rows come back as SQLAlchemy's `.mappings()` would give them: keyed by
    column label, each value through its type's result processor."""

    def __init__(self, clause: ClauseElement, dialect: Dialect) -> None:
        super().__init__(clause, dialect)
        columns = cast(SQLCompiler, clause.compile(dialect=dialect))._result_columns
        self._keys = [column.keyname for column in columns]
        self._types = [column.type for column in columns]
        # Built at the first rows: a processor may depend on the type the server sends.
        self._processors: list[Callable[[Any], Any] | None] | None = None

    def mappings(self, records: Sequence[Any], attributes: Sequence[Any]) -> list[dict[str, Any]]:
        processors = self._processors
        if processors is None:
            oids = [attribute.type.oid for attribute in attributes]
            processors = self._processors = [
                kind._cached_result_processor(self.dialect, oid)
                for kind, oid in zip(self._types, oids, strict=True)
            ]
        keys = self._keys
        return [
            {
                key: value if process is None else process(value)
                for key, value, process in zip(keys, record, processors, strict=True)
            }
            for record in records
        ]


async def fetch(
    conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]
) -> Sequence[Any]:
    """The statement's rows (asyncpg records)."""
    return (await _run(conn, statement, params))[0]


async def fetch_mappings(
    conn: AsyncConnection, query: DriverQuery, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The query's rows as `.mappings()` would give them."""
    records, attributes = await _run(conn, query, params)
    return query.mappings(records, attributes)


async def fetch_alone(
    conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]
) -> Sequence[Any]:
    """`fetch`, as its own transaction (see above): nothing may have begun on `conn`."""
    return (await _run(conn, statement, params, alone=True))[0]


async def fetch_mappings_alone(
    conn: AsyncConnection, query: DriverQuery, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`fetch_mappings`, as its own transaction (see above)."""
    records, attributes = await _run(conn, query, params, alone=True)
    return query.mappings(records, attributes)


async def _run(
    conn: AsyncConnection,
    statement: DriverStatement,
    params: Mapping[str, Any],
    *,
    alone: bool = False,
) -> tuple[Sequence[Any], Sequence[Any]]:
    if alone:
        assert not conn.in_transaction(), "a statement alone needs a connection without one"
    elif not conn.in_transaction():
        await conn.begin()  # what execute() would do (autobegin); in autocommit, nothing
    sync = conn.sync_connection
    assert sync is not None
    args = statement.args(params)
    if sync._has_events or sync.engine._has_events:
        sync.dispatch.before_cursor_execute(sync, None, statement.sql, args, None, False)
    adapter = (await conn.get_raw_connection()).dbapi_connection
    assert adapter is not None
    try:
        async with adapter._execute_mutex:
            if adapter._transaction is None and not alone:
                await adapter._start_transaction()
            prepared, attributes = await adapter._prepare(
                statement.sql, getattr(statement.dialect, "_invalidate_schema_cache_asof", 0)
            )
            rows: Sequence[Any] = await prepared.fetch(*args)
            return rows, attributes
    except Exception as error:
        raise await _translated(conn, adapter, statement, error) from error


async def _translated(
    conn: AsyncConnection, adapter: Any, statement: DriverStatement, error: Exception
) -> Exception:
    """The error as SQLAlchemy raises it from execute(); the connection invalidated when the
    error says it is gone."""
    if isinstance(error, DBAPIError):
        return error
    try:
        adapter._handle_exception(error)  # raises the dialect's DBAPI-shaped exception
    except Exception as dbapi_error:
        error = dbapi_error
    dialect = statement.dialect
    gone = dialect.is_disconnect(error, adapter, None)  # type: ignore[arg-type]
    if gone:
        await conn.invalidate()
    if not isinstance(error, dialect.loaded_dbapi.Error):
        return error  # not the database's answer: a socket error, a timeout ... as it came
    return DBAPIError.instance(
        statement.sql,
        None,  # parameters never travel with errors (they hold tokens, personal data)
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=gone,
        dialect=dialect,
    )
