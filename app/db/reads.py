"""Reads run on the database driver itself: compiled once per dialect, no ORM, no transaction
(each read sees what is committed at that moment), no pool ping. The connection comes from the
engine's one pool, or the replica's (`Database.fetch_raw`, `Database.fetch_rows`).

The authorize hot path and the caller's key read this way; so do the pages people wait on (the
user-group list, the group page, history) through `Reads`, a request's handle that also knows
where the request may read (replica or primary) and whether it runs inside another request's
transaction (the If-Match read), where it reads through that transaction's session instead."""

from typing import Any

from sqlalchemy import Float, Numeric, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from app.db.database import Database


class DriverStatement:
    """A statement compiled for one dialect. Values go through the same type processing as
    SQLAlchemy's, so rows come back typed."""

    def __init__(self, db: Database, statement: Select[Any]) -> None:
        dialect = db.engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positions: list[str] = list(compiled.positiontup or [])
        binds = {name: compiled.binds[name] for name in set(self.positions)}
        if any(bind.expanding for bind in binds.values()):
            raise ValueError("an expanding (IN) parameter cannot be compiled once; bind an array")
        self.bind_processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in binds.items()
        }
        # Literals in the statement (SQLAlchemy names them param_1, ...) keep their own value.
        self.defaults = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        self.result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, _type_code(column.type, dialect))
            for column in statement.selected_columns
        ]

        # Only the columns that have a processor are visited per row (most have none).
        self.processed_columns = [
            (index, processor) for index, processor in enumerate(self.result_processors) if processor
        ]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        """The positional parameters. A name bound in several places (SQLite's `?` repeats the
        moment `now` for every quota) is processed once."""
        processed = {}
        for name, processor in self.bind_processors.items():
            value = values[name] if name in values else self.defaults[name]
            processed[name] = processor(value) if processor else value
        return [processed[name] for name in self.positions]

    def values(self, raw: Any) -> tuple[Any, ...]:
        """The driver's values with the statement's own column types applied, in column order."""
        converted = list(raw)
        assert len(converted) == len(self.result_processors)
        for index, processor in self.processed_columns:
            value = converted[index]
            if value is not None:
                converted[index] = processor(value)
        return tuple(converted)

    async def fetch_first(self, db: Database, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, always on the primary (the hot path, the caller's key)."""
        raw = await db.fetch_raw(self.sql, self.parameters(values))
        return None if raw is None else self.values(raw)


# PostgreSQL's type codes (OIDs) of the values a NUMERIC and a FLOAT column send.
_PG_NUMERIC, _PG_FLOAT8 = 1700, 701


def _type_code(type_: TypeEngine[Any], dialect: Dialect) -> int | None:
    """The driver's type code for a column of this type, which SQLAlchemy reads from the cursor
    when it runs a statement itself: asyncpg's numeric processors choose by it (a NUMERIC comes as
    a Decimal and needs none)."""
    if dialect.name != "postgresql":
        return None
    impl = type_.dialect_impl(dialect)
    leaf = getattr(impl, "impl_instance", impl)
    if isinstance(leaf, Float):
        return _PG_FLOAT8
    return _PG_NUMERIC if isinstance(leaf, Numeric) else None


# Each statement compiled on first use, once per dialect (a process may hold two databases: the
# tests do). Keyed by the statement object, which the entry keeps alive: only statements built
# once (module constants, `built_once` shapes) are read this way, so the table stays small.
_COMPILED: dict[tuple[str, int], tuple[Select[Any], DriverStatement]] = {}


def compiled(db: Database, statement: Select[Any]) -> DriverStatement:
    key = (db.engine.dialect.name, id(statement))
    entry = _COMPILED.get(key)
    if entry is None:  # the entry holds the statement, so its id is never another's
        entry = _COMPILED[key] = (statement, DriverStatement(db, statement))
    return entry[1]


class Reads:
    """A request's reads on the driver, outside any transaction, from the replica when `replica`
    and one is configured (`Database.fetch_rows` chooses, `consistent_after` included); or, when
    the request runs inside another's transaction (`session`), through that session, so it sees
    what that transaction has locked and written."""

    def __init__(
        self,
        db: Database,
        *,
        replica: bool = False,
        consistent_after: str | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        self.db = db
        self.replica = replica
        self.consistent_after = consistent_after
        self.session = session

    async def all(self, statement: Select[Any], values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of a statement built once, typed by its columns."""
        if self.session is not None:
            return [tuple(row) for row in await self.session.execute(statement, values)]
        driver = compiled(self.db, statement)
        raw = await self.db.fetch_rows(
            driver.sql,
            driver.parameters(values),
            replica=self.replica,
            consistent_after=self.consistent_after,
        )
        return [driver.values(row) for row in raw]

    async def first(self, statement: Select[Any], values: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row (the statement limits itself: every row is fetched)."""
        rows = await self.all(statement, values)
        return rows[0] if rows else None
