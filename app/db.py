"""Engine, sessions and the unit of work: the only place that commits."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import Request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.util import await_, greenlet_spawn

from app.settings import Settings, normalize_database_url

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A request made by the route class inside another request's transaction (If-Match reads the
# target there) carries that transaction's session in its scope state under this name.
SHARED_SESSION_STATE = "shared_session"
APPLICATION_NAME = "user-groups-service"

# SQLSTATEs that mean "the server cannot serve now, try again": admin_shutdown, crash_shutdown,
# cannot_connect_now (starting up, shutting down, recovering), idle_session_timeout,
# query_canceled (statement_timeout), too_many_connections. Class 08 is added below.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "57014", "53300"})
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(settings: Settings) -> AsyncEngine:
    url = normalize_database_url(settings.database_url)
    if is_sqlite(url):
        return _create_sqlite_engine(url, settings)
    bound = settings.db_request_timeout_seconds
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=min(settings.db_pool_timeout_seconds, bound),
        connect_args={
            # Each wait on the server is bounded: the connect, and every statement's round trip.
            "timeout": bound,
            "command_timeout": bound,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "timezone": "UTC",
                "application_name": APPLICATION_NAME,
            },
        },
    )
    _check_connections_on_checkout(engine)
    _drop_connections_that_time_out(engine)
    return engine


def _create_sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    database = url.split(":///", 1)[1] if ":///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = round(settings.db_request_timeout_seconds * 1000)
    engine = create_async_engine(url, connect_args={"timeout": settings.db_request_timeout_seconds})
    configure_sqlite(engine, busy_ms)
    return engine


def configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int = 30_000) -> None:
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
            # A write waits this long for another writer's lock, then "database is locked": 503.
            f"PRAGMA busy_timeout={busy_timeout_ms}",
        ):
            cursor.execute(pragma)
        cursor.close()
        # SQLite's lower() folds ASCII only; PostgreSQL's folds all letters. Same answers on both.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_database_unavailable(error: BaseException) -> bool:
    """Does this error mean the database is unreachable, restarting, overloaded or too slow, so
    that the same request may well succeed a little later (503 + Retry-After)? The one place for
    this rule; it looks through SQLAlchemy's wrapper to the driver's own error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError | OSError):
            # Pool slot not free in time; refused, reset or timed out (TimeoutError is an OSError).
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate in UNAVAILABLE_SQLSTATES or sqlstate.startswith("08")):
            return True
        if isinstance(current, sqlite3.OperationalError) and (
            getattr(current, "sqlite_errorcode", 0) & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
            or "database is locked" in str(current)
        ):
            return True
        if isinstance(current, asyncpg.exceptions.ConnectionDoesNotExistError) or (
            isinstance(current, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(current)
        ):
            return True  # the server or the network closed the connection
        orig = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


# Set while the hot path checks out a connection: it skips the checkout ping (see below).
_SKIP_CHECKOUT_PING: ContextVar[bool] = ContextVar("skip_checkout_ping", default=False)
_FRESH = "ugs_fresh"


def _check_connections_on_checkout(engine: AsyncEngine) -> None:
    """SQLAlchemy's pool_pre_ping, written out so the hot path can skip it.

    Sessions get a connection that answered a ping (a connection the server dropped while it
    was idle is replaced, and all older ones with it), except a fresh one. The hot path skips
    the ping: it runs one read outside any transaction and retries it once on a new connection
    when its connection turns out dead, which costs no round trip when it is alive.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False) or _SKIP_CHECKOUT_PING.get():
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            driver = dbapi_connection.driver_connection
            if driver.is_closed():
                raise sa_exc.InvalidatePoolError() from error  # the pool reconnects
            # Alive but silent (a frozen server): reconnecting would only wait again.
            driver.terminate()
            raise


def _drop_connections_that_time_out(engine: AsyncEngine) -> None:
    """A statement the server did not answer within the bound leaves its connection in the middle
    of the protocol: drop it at once (a graceful close would wait on the silent server again)."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, TimeoutError) and context.connection is not None:
            driver: Any = context.connection.connection.driver_connection
            driver.terminate()
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False


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
        self._sqlite: sqlite3.Connection | None = None
        # The hot path holds at most DB_POOL_SIZE connections at once: past that the pool would
        # open overflow connections and close them again on return (SQLAlchemy's QueuePool keeps
        # only DB_POOL_SIZE idle), a new PostgreSQL backend per burst. Overflow is for the others.
        self._hot_path_slots = asyncio.Semaphore(settings.db_pool_size)

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
            raw = await self._fetchrow(statement.sql, parameters)
        return statement.row(raw)

    async def _fetchrow(self, sql: str, parameters: list[Any]) -> Any:
        """One read on the driver connection of a connection borrowed from the engine's pool: the
        same connections as the sessions use, so one budget (DB_POOL_SIZE + DB_MAX_OVERFLOW).
        No transaction is begun, so giving it back costs nothing (the pool's rollback-on-return
        has nothing to roll back and sends nothing). Checkout, read and return run in one
        greenlet, as SQLAlchemy's own calls do: the pool may need to close a connection on return."""
        if self._hot_path_slots.locked():  # only a wait needs the (costlier) timeout around it
            async with asyncio.timeout(self.engine.pool.timeout()):  # type: ignore[attr-defined]
                await self._hot_path_slots.acquire()
        else:
            await self._hot_path_slots.acquire()
        token = _SKIP_CHECKOUT_PING.set(True)
        try:
            return await greenlet_spawn(self._fetchrow_on_pooled_connection, sql, parameters)
        finally:
            _SKIP_CHECKOUT_PING.reset(token)
            self._hot_path_slots.release()

    def _fetchrow_on_pooled_connection(self, sql: str, parameters: list[Any]) -> Any:
        for attempt in (1, 2):
            pooled = self.engine.sync_engine.raw_connection()
            driver: Any = pooled.driver_connection
            try:
                row = await_(driver.fetchrow(sql, *parameters))
            except Exception as error:
                stale = driver.is_closed()
                # A dead connection or one left mid-statement is never given back to the pool.
                if stale or isinstance(error, TimeoutError):
                    driver.terminate()
                    pooled.invalidate(error)
                else:
                    pooled.close()
                if stale and attempt == 1:
                    continue  # the server dropped it while idle (a restart): once more, on a new one
                raise
            pooled.close()
            return row
        raise AssertionError("unreachable")

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            path = self.url.split(":///", 1)[1]
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # This read runs in the event loop: never wait long for a lock (WAL readers rarely do).
            busy_ms = min(2000, round(self.settings.db_request_timeout_seconds * 1000))
            connection.execute(f"PRAGMA busy_timeout={busy_ms}")
            connection.execute("PRAGMA query_only=ON")
            self._sqlite = connection
        return self._sqlite


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
