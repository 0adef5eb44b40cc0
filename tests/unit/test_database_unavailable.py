"""Which errors mean "the database is unavailable, retry later" (503) and which are bugs (500).

The driver's own exception classes, as asyncpg and sqlite3 raise them; end to end the same errors
are produced by tests/gates/test_database_faults.py (PostgreSQL) and tests/api/test_keep_alive.py.
"""

import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import exc as sa_exc

from app.db import is_database_unavailable

UNAVAILABLE: list[BaseException] = [
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError(
        "terminating connection because of crash of another server process"
    ),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.IdleSessionTimeoutError("terminating connection due to idle-session timeout"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetchrow(): connection is closed"),
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
    sa_exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"),
    sqlite3.OperationalError("database is locked"),
    sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked")),
    sa_exc.DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
]

NOT_UNAVAILABLE: list[BaseException] = [
    asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    sqlite3.OperationalError("no such table: x"),
    sa_exc.ProgrammingError("SELECT x", {}, Exception("syntax error")),
    RuntimeError("a bug"),
    ValueError("a bug"),
]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_unavailable(error: BaseException) -> None:
    assert is_database_unavailable(error)


@pytest.mark.parametrize("error", NOT_UNAVAILABLE, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_not_unavailable(error: BaseException) -> None:
    assert not is_database_unavailable(error)


def test_the_driver_error_is_found_behind_sqlalchemys_wrapper() -> None:
    starting_up = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    adapted = Exception("the database system is starting up")
    adapted.__cause__ = starting_up
    assert is_database_unavailable(sa_exc.DBAPIError("SELECT 1", {}, adapted))
