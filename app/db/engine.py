"""The engine for either database: bounded waits, real transactions on SQLite, a checkout ping the
hot path can skip, and connections dropped when the server goes silent."""

import uuid
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from app.settings import Settings, normalize_database_url

APPLICATION_NAME = "user-groups-service"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """The engine for DATABASE_URL, or for `url` (the replica) with the same settings."""
    url = normalize_database_url(url or settings.database_url)
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
            "server_settings": _server_settings(settings),
            **(PGBOUNCER_CONNECT_ARGS if settings.database_pgbouncer else {}),
        },
    )
    _check_connections_on_checkout(engine)
    _drop_connections_that_time_out(engine)
    return engine


def create_migration_engine(settings: Settings) -> AsyncEngine:
    """The engine migrations run on: no statement timeout and no per-statement round-trip bound.

    The request bounds (DB_STATEMENT_TIMEOUT_MS, DB_REQUEST_TIMEOUT_SECONDS) are for requests; a
    migration rewriting a large table takes as long as it takes (and holds one connection).
    """
    url = normalize_database_url(settings.database_url)
    if is_sqlite(url):
        _make_sqlite_directory(url)
        engine = create_async_engine(url, poolclass=NullPool)
        # Without foreign keys: a batch migration recreates a table (copy, drop, rename), and
        # dropping `cards` with them on would set every session's card_id to NULL (ON DELETE).
        configure_sqlite(engine, foreign_keys=False)
        return engine
    server_settings = {"timezone": "UTC", "application_name": APPLICATION_NAME}
    connect_args: dict[str, Any] = {"command_timeout": None, "server_settings": server_settings}
    if settings.database_pgbouncer:  # no statement_timeout at connect there (migrations/env.py sets it)
        connect_args.update(PGBOUNCER_CONNECT_ARGS)
    else:
        server_settings["statement_timeout"] = "0"
    return create_async_engine(url, poolclass=NullPool, connect_args=connect_args)


# PgBouncer in transaction pooling mode (1.18, Debian 12's, keeps no prepared statements): the next
# transaction may run on another server connection, where a statement prepared earlier does not
# exist. So asyncpg keeps no statement cache (its statements are unnamed, and it sends Parse,
# Describe, Bind and Execute before one Sync, so they reach one server connection: the hot path's
# read outside a transaction is safe), and SQLAlchemy names each statement uniquely (it prepares
# and runs it inside one transaction).
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: f"__ugs_{uuid.uuid4().hex}__",
}


def _server_settings(settings: Settings) -> dict[str, str]:
    server_settings = {"timezone": "UTC", "application_name": APPLICATION_NAME}
    # PgBouncer refuses startup parameters it does not know, statement_timeout among them: set it
    # on the role or database there (docs/scaling.md).
    if not settings.database_pgbouncer:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return server_settings


def _make_sqlite_directory(url: str) -> None:
    """SQLite creates the database file, not the directory it goes in (data/ on a fresh clone)."""
    database = url.split(":///", 1)[1] if ":///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _create_sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    _make_sqlite_directory(url)
    busy_ms = round(settings.db_request_timeout_seconds * 1000)
    engine = create_async_engine(url, connect_args={"timeout": settings.db_request_timeout_seconds})
    configure_sqlite(engine, busy_ms)
    return engine


def configure_sqlite(
    engine: AsyncEngine, busy_timeout_ms: int = 30_000, *, foreign_keys: bool = True
) -> None:
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
            f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
            "PRAGMA synchronous=NORMAL",
            # A write waits this long for another writer's lock, then "database is locked": 503.
            f"PRAGMA busy_timeout={busy_timeout_ms}",
        ):
            cursor.execute(pragma)
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def register_sqlite_functions(connection: Any) -> None:
    """What our statements call that SQLite lacks or does otherwise, on every connection that runs
    them (the pool's and the driver reads' own: app/db/database.py)."""
    # SQLite's lower() folds ASCII only; PostgreSQL's folds all letters. Same answers on both.
    connection.create_function("lower", 1, _lower, deterministic=True)
    # The guest rules' quota periods (app/repositories/rule_facts.py); PostgreSQL has date_trunc.
    connection.create_function("ugs_period_start", 3, period_start, deterministic=True)


# Set while the hot path checks out a connection: it skips the checkout ping (see below).
SKIP_CHECKOUT_PING: ContextVar[bool] = ContextVar("skip_checkout_ping", default=False)
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
        if record.info.pop(_FRESH, False) or SKIP_CHECKOUT_PING.get():
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


SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a datetime on SQLite


def period_start(at: str | None, time_zone: str | None, period: str | None) -> str | None:
    """The UTC start of the calendar day, week (from Monday) or month that holds `at` (UTC, as
    SQLite stores it) in `time_zone`, in the same text form, so it compares with stored times."""
    if at is None or period is None:
        return None
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(time_zone or "UTC"))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if period == "week":
        start -= timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    aware = start.replace(tzinfo=ZoneInfo(time_zone or "UTC"))
    return aware.astimezone(UTC).strftime(SQLITE_TIME)
