"""Engine, sessions and the unit of work: the only place that commits."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from app.settings import Settings, normalize_database_url

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A request made by the route class inside another request's transaction (If-Match reads the
# target there) carries that transaction's session in its scope state under this name.
SHARED_SESSION_STATE = "shared_session"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(settings: Settings) -> AsyncEngine:
    url = normalize_database_url(settings.database_url)
    if is_sqlite(url):
        return _create_sqlite_engine(url)
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.db_pool_timeout_seconds,
            "command_timeout": settings.db_statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "timezone": "UTC",
                "application_name": "user-groups-service",
            },
        },
    )


def _create_sqlite_engine(url: str) -> AsyncEngine:
    database = url.split(":///", 1)[1] if ":///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    configure_sqlite(engine)
    return engine


def configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and SQLAlchemy's recipe for real transactions on Python's sqlite3.

    Python 3.11's sqlite3 manages BEGIN itself and breaks SAVEPOINT; we take that over. Write
    requests begin with BEGIN IMMEDIATE, so a policy check and the write it guards cannot
    interleave with another writer (SQLite's answer to PostgreSQL's FOR UPDATE).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()
        # SQLite's lower() folds ASCII only; PostgreSQL's folds all letters. Same answers on both.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def _keep_session(connection: Any) -> None:
    return None


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class PoolStatus:
    """The connection pool right now (for the metrics)."""

    in_use: int
    idle: int
    waiting: int
    max_connections: int


class Database:
    """One engine and session factory per process (held on app.state)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = normalize_database_url(settings.database_url)
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._driver_pool: Any = None
        self._sqlite: sqlite3.Connection | None = None
        self._pool_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def pool_status(self) -> PoolStatus | None:
        """The SQLAlchemy pool's counts; None for a pool that does not queue (in-memory SQLite)."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return None
        # Tasks blocked in the pool's queue; asyncio.Queue keeps no public count of them.
        queue = pool._pool.__dict__.get("_queue")
        waiting = sum(1 for waiter in getattr(queue, "_getters", ()) if not waiter.done())
        return PoolStatus(
            in_use=pool.checkedout(),
            idle=pool.checkedin(),
            waiting=waiting,
            max_connections=pool.size() + max(pool._max_overflow, 0),
        )

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        await self.engine.dispose()

    async def fetch_first(
        self, statement: "DriverStatement", values: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        parameters = statement.parameters(values)
        if self.is_sqlite:
            # A local file: a microsecond read, cheaper in the event loop than a thread hop.
            raw = self._sqlite_connection().execute(statement.sql, parameters).fetchone()
        else:
            pool = self._driver_pool or await self._create_driver_pool()
            async with pool.acquire() as connection:
                raw = await connection.fetchrow(statement.sql, *parameters)
        return statement.row(raw)

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            path = self.url.split(":///", 1)[1]
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # This read runs in the event loop: never wait long for a lock (WAL readers rarely do).
            connection.execute("PRAGMA busy_timeout=2000")
            connection.execute("PRAGMA query_only=ON")
            self._sqlite = connection
        return self._sqlite

    async def _create_driver_pool(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]

        async with self._pool_lock:
            if self._driver_pool is None:
                settings = self.settings
                self._driver_pool = await asyncpg.create_pool(
                    self.url.replace("postgresql+asyncpg://", "postgresql://", 1),
                    min_size=1,
                    max_size=settings.db_pool_size,
                    # Only plain reads run here: no session state to reset, so no extra round trip
                    # (asyncpg's default reset sends RESET ALL and more on every release).
                    reset=_keep_session,
                    timeout=settings.db_pool_timeout_seconds,
                    command_timeout=settings.db_statement_timeout_ms / 1000 + 1,
                    server_settings={
                        "statement_timeout": str(settings.db_statement_timeout_ms),
                        "timezone": "UTC",
                        "application_name": "user-groups-service-hot-path",
                    },
                )
        return self._driver_pool


async def open_session(db: Database, *, write: bool) -> AsyncSession:
    session = db.sessionmaker()
    if write and db.is_sqlite:
        await session.connection(execution_options={"sqlite_immediate": True})
    return session


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any exception.

    Declared with scope="function" so the commit happens before the response is sent.
    """
    shared: AsyncSession | None = getattr(request.state, SHARED_SESSION_STATE, None)
    if shared is not None:
        yield shared  # the owning request commits or rolls back
        return
    db: Database = request.app.state.db
    session = await open_session(db, write=request.method in WRITE_METHODS)
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


class UnitOfWork:
    """The same unit of work for code outside a request (CLI, demo data)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        self.session = await open_session(self.db, write=True)
        return self.session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.session is not None
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()


class DriverStatement:
    """A read compiled once for this database and run on the driver itself: no ORM, no
    transaction (each read sees what is committed at that moment), no pool ping. For the hot path.
    Values go through the same type processing as SQLAlchemy's, so rows come back typed."""

    def __init__(self, db: "Database", statement: Any) -> None:
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

    def row(self, raw: Any) -> tuple[Any, ...] | None:
        if raw is None:
            return None
        return tuple(
            processor(value) if processor and value is not None else value
            for processor, value in zip(self.result_processors, raw, strict=True)
        )
