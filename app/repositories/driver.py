"""Reads run on the database driver itself, for the hot path: compiled once per dialect, no ORM,
no transaction (each read sees what is committed at that moment), no pool ping. The connection
comes from the engine's one pool (`Database.fetch_raw`)."""

from typing import Any

from sqlalchemy import Select

from app.db import Database


class DriverStatement:
    """A statement compiled for one dialect. Values go through the same type processing as
    SQLAlchemy's, so rows come back typed."""

    def __init__(self, db: Database, statement: Select[Any]) -> None:
        dialect = db.engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positions: list[str] = list(compiled.positiontup or [])
        self.bind_processors = {
            name: compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in set(self.positions)
        }
        self.result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

        # Only the columns that have a processor are visited per row (most have none).
        self.processed_columns = [
            (index, processor) for index, processor in enumerate(self.result_processors) if processor
        ]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        """The positional parameters. A name bound in several places (SQLite's `?` repeats the
        moment `now` for every quota) is processed once."""
        processed = {
            name: processor(values[name]) if processor else values[name]
            for name, processor in self.bind_processors.items()
        }
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
        raw = await db.fetch_raw(self.sql, self.parameters(values))
        return None if raw is None else self.values(raw)


class CompiledStatements:
    """Each statement compiled on first use, once per dialect (a process may hold two databases:
    the tests do)."""

    def __init__(self, statements: dict[str, Select[Any]]) -> None:
        self.statements = statements
        self._compiled: dict[tuple[str, str], DriverStatement] = {}

    def get(self, db: Database, name: str) -> DriverStatement:
        key = (db.engine.dialect.name, name)
        if key not in self._compiled:
            self._compiled[key] = DriverStatement(db, self.statements[name])
        return self._compiled[key]
