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

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        result = []
        for name in self.positions:
            processor = self.bind_processors[name]
            result.append(processor(values[name]) if processor else values[name])
        return result

    def values(self, raw: Any) -> tuple[Any, ...]:
        return tuple(
            processor(value) if processor and value is not None else value
            for processor, value in zip(self.result_processors, raw, strict=True)
        )

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
