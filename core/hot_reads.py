"""Hot reads: the few statements that nearly every request runs, sent straight to the driver.

For a small indexed read, SQLAlchemy's execution layer (cache-key lookup, greenlet hops, result
metadata, ORM loading) costs several times the statement's own round trip (SPEC 10, issue 7).
A `HotRead` is still written in SQLAlchemy Core, and on PostgreSQL it is compiled once to
asyncpg's SQL and run on the session's own connection once the request has a session, so it
sees what the session's transaction wrote; before that, outside any transaction, on an idle
connection the pool lends (core/idle_pool.py) or the request's own. SQLAlchemy's own bind and
result processors still convert the values, so rows come back exactly as `session.execute`
would give them, and `before_cursor_execute` listeners (statement counters) see the
statement (while one listens, no connection is lent). On any other database (the embedded
SQLite) it simply goes through `session.execute`.

Rows are named tuples in the statement's column order (named by column key or label).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Enum as SAEnum
from sqlalchemy import String, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import Executable
from sqlmodel import SQLModel

from core.request_db import RequestDatabase

M = TypeVar("M", bound=SQLModel)
# A request's lazy database, or a plain session (jobs, other routes).
Database = RequestDatabase | AsyncSession
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # (parameter name, whether the caller must give it, its literal value, bind processor),
    # in the order of $1, $2, ...
    binds: tuple[tuple[str, bool, Any, Processor], ...]
    # (column position, result processor) for the columns that need converting.
    converts: tuple[tuple[int, Callable[[Any], Any]], ...]


class HotRead:
    """A SELECT (or a statement with RETURNING) built once and run many times."""

    def __init__(self, statement: Executable, *, elsewhere: Executable | None = None) -> None:
        """`elsewhere`: the same statement for databases other than PostgreSQL, where it needs
        other SQL (an expanding `IN` list in place of `= ANY(array)`)."""
        self.statement = statement
        self.elsewhere = statement if elsewhere is None else elsewhere
        self._compiled: _Compiled | None = None
        columns = getattr(statement, "selected_columns", None)
        if columns is None:
            columns = statement.exported_columns  # type: ignore[attr-defined]
        # Attribute access like SQLAlchemy's rows; duplicate names become _1, _2, ...
        self.row_type: Any = namedtuple(  # type: ignore[misc]
            "HotRow", [column.key for column in columns], rename=True
        )

    async def rows(self, db: Database, **params: Any) -> list[Any]:
        bind: Any = db.bind
        if bind is None or bind.dialect.driver != "asyncpg":
            result = await db.execute(self.elsewhere, params)
            return [self.row_type._make(row) for row in result]
        compiled = self._compiled or self._compile(bind.dialect)
        args = []
        for name, required, literal, process in compiled.binds:
            value = params[name] if required else params.get(name, literal)
            args.append(value if process is None or value is None else process(value))
        lease = db.lease() if isinstance(db, RequestDatabase) else None
        if lease is not None:
            records = await lease.fetch(compiled.sql, args)
        else:
            records = await self._fetch(db, compiled.sql, args)
        make = self.row_type._make
        converts = compiled.converts
        if not converts:
            return [make(record) for record in records]
        rows = []
        for record in records:
            values = list(record)
            for position, process in converts:
                value = values[position]
                if value is not None:
                    values[position] = process(value)
            rows.append(make(values))
        return rows

    @staticmethod
    async def _fetch(db: Database, sql: str, args: list[Any]) -> list[Any]:
        """On a connection SQLAlchemy checked out: the request's own, or the session's."""
        connection = await (
            db.read_connection() if isinstance(db, RequestDatabase) else db.connection()
        )
        sync_connection: Any = connection.sync_connection
        pooled = sync_connection.connection
        if sync_connection._has_events or sync_connection.engine._has_events:
            # Statement counters and tracing listen here: a hot read is a statement like any.
            sync_connection.dispatch.before_cursor_execute(
                sync_connection, None, sql, tuple(args), None, False
            )
        # One statement at a time per connection, hot reads and SQLAlchemy's alike: DataLoaders
        # of one request run side by side, and asyncpg refuses overlapping operations.
        try:
            async with pooled.dbapi_connection._execute_mutex:
                return await pooled.driver_connection.fetch(sql, *args)  # type: ignore[no-any-return]
        except Exception as error:
            # SQLAlchemy did not see this fail: a dead connection (a restarted database, a
            # dropped link) must leave the pool here, or every request it serves fails too.
            if pooled.driver_connection.is_closed():
                # As SQLAlchemy does on a disconnect: this connection is dropped, and every
                # pooled one made before now is replaced when next checked out.
                sync_connection.engine.pool._invalidate(pooled, error, _checkin=False)
                await connection.invalidate(error)
            raise

    async def write_soon(self, db: Database, **params: Any) -> None:
        """A small write that must not hold a lock for the rest of the request: on PostgreSQL
        it runs now, in autocommit (no transaction has begun yet); elsewhere it runs just
        before the request commits, since SQLite would take its one write lock here and keep
        it until the end, stalling writes that must happen outside the request (side engine)."""
        bind: Any = db.bind
        if bind is not None and bind.dialect.driver == "asyncpg":
            await self.rows(db, **params)
            return
        session = db.session if isinstance(db, RequestDatabase) else db
        statement = self.elsewhere

        def write(sync_session: Any) -> None:
            sync_session.execute(statement, params)

        event.listen(session.sync_session, "before_commit", write, once=True)

    async def first(self, db: Database, **params: Any) -> Any:
        found = await self.rows(db, **params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if compiled.positiontup is None:
            raise ValueError("a hot read needs a dialect with positional parameters")
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a hot read cannot take an expanding IN list; use = ANY(array)")
        binds = tuple(
            (
                bind.key,
                bind.required,
                bind.value,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for bind in (compiled.binds[name] for name in compiled.positiontup)
        )
        columns = getattr(self.statement, "selected_columns", None)
        if columns is None:
            columns = self.statement.exported_columns  # type: ignore[attr-defined]
        processors = (_result_processor(column.type, dialect) for column in columns)
        self._compiled = _Compiled(
            sql=compiled.string,
            binds=binds,
            converts=tuple(
                (position, process)
                for position, process in enumerate(processors)
                if process is not None
            ),
        )
        return self._compiled


def _result_processor(type_: Any, dialect: Dialect) -> Processor:
    """The column type's result processor, or one that gives the same values with fewer
    calls per value for the types every page reads: an enum looked up straight in its table
    (SQLAlchemy's own processor raises its error for a value not in it), and a type that
    offers `hot_result_processor` (models.base.UTCDateTime), or none where the driver's values
    are right as they are."""
    impl = type_.dialect_impl(dialect)
    process = impl.result_processor(dialect, None)
    if process is None:
        return None
    hot = getattr(impl, "hot_result_processor", None)
    if hot is not None:
        found = hot(dialect)
        if found is False:  # the driver's values need no converting
            return None
        return found or process  # type: ignore[no-any-return]
    if (
        type(impl) is SAEnum
        and impl.enum_class is not None
        and String.result_processor(impl, dialect, None) is None
    ):
        lookup: dict[Any, Any] = impl._object_lookup

        def enum_member(value: Any) -> Any:
            try:
                return lookup[value]
            except KeyError:
                return process(value)

        return enum_member
    return process  # type: ignore[no-any-return]


def loaded(db: Database, model: type[M], row: Sequence[Any]) -> M:
    """An entity built from a hot read's values for `columns_of(model)`, in that order, and
    placed in the session as if a query had loaded it: changes to it are flushed as
    UPDATEs, and the identity map knows it (a request's database does this when it makes
    its session, core/request_db.py)."""
    shape = _shape_of(model)
    key = shape.mapper.identity_key_from_primary_key([row[i] for i in shape.primary_key])
    existing = db.identity_map.get(key) if isinstance(db, AsyncSession) else db.known(key)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    values = dict(zip(shape.keys, row, strict=True))
    entity: M = shape.manager.new_instance()
    entity.__dict__.update(values)
    if isinstance(db, RequestDatabase):
        db.adopt(key, entity, values)
    else:
        make_transient_to_detached(entity)
        db.add(entity)
    return entity


@lru_cache
def columns_of(model: type[SQLModel]) -> tuple[Any, ...]:
    """Every mapped column of a table model, in table order (for `loaded`)."""
    return tuple(model.__table__.columns)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What `loaded` needs of a model, looked up once."""

    keys: tuple[str, ...]  # the attribute of each column, in `columns_of` order
    primary_key: tuple[int, ...]  # positions of the primary key's columns
    mapper: Any
    manager: Any


@lru_cache
def _shape_of(model: type[SQLModel]) -> _Shape:
    columns = columns_of(model)
    mapper: Any = model.__mapper__  # type: ignore[attr-defined]
    return _Shape(
        keys=tuple(column.key for column in columns),
        primary_key=tuple(
            next(i for i, column in enumerate(columns) if column is key)
            for key in mapper.primary_key
        ),
        mapper=mapper,
        manager=model._sa_class_manager,  # type: ignore[attr-defined]
    )
