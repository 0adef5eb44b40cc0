"""Engine, sessions and the unit of work: the only place that commits."""

from collections.abc import AsyncIterator
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
from sqlalchemy.pool import ConnectionPoolEntry

from app.settings import Settings, normalize_database_url

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


class Database:
    """One engine and session factory per process (held on app.state)."""

    def __init__(self, settings: Settings) -> None:
        self.url = normalize_database_url(settings.database_url)
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def open_session(db: Database, *, write: bool) -> AsyncSession:
    session = db.sessionmaker()
    if write and db.is_sqlite:
        await session.connection(execution_options={"sqlite_immediate": True})
    return session


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any exception.

    Declared with scope="function" so the commit happens before the response is sent.
    """
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
