"""Which database errors mean "try again later" (a 503 with Retry-After), on both databases."""

import sqlite3

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

# SQLSTATEs that mean "the server cannot serve now, try again": admin_shutdown, crash_shutdown,
# cannot_connect_now (starting up, shutting down, recovering), idle_session_timeout,
# query_canceled (statement_timeout), too_many_connections. Class 08 is added below.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "57014", "53300"})
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


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
