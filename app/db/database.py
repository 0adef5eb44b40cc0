"""The database as the process holds it: pool, hot-path reads on the driver, sessions, and the
unit of work (the only place that commits)."""

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import await_, greenlet_spawn

from app.db.engine import SKIP_CHECKOUT_PING, create_engine, is_sqlite, register_sqlite_functions
from app.db.faults import is_database_unavailable
from app.settings import Settings, normalize_database_url

logger = logging.getLogger(__name__)

# session.info key: names of the process's commit signals a transaction raises when it commits.
_COMMIT_SIGNALS = "ugs_commit_signals"


def signal_on_commit(session: AsyncSession, name: str) -> None:
    """Sets this process's `Database.commit_signal(name)` once the session's transaction commits
    (the in-process webhook worker wakes at once, instead of at its next poll)."""
    session.info.setdefault(_COMMIT_SIGNALS, set()).add(name)


# A WAL position as PostgreSQL prints it (pg_lsn): what a write answers in X-Consistent-After.
LSN_PATTERN = r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"
_LSN = re.compile(LSN_PATTERN)
# Set on a session's info when it reads from the replica.
ON_REPLICA = "ugs_on_replica"


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
        # Reads on the driver (the hot path, the key, the pages) hold at most DB_POOL_SIZE
        # connections at once: past that the pool would open overflow connections and close them
        # again on return (SQLAlchemy's QueuePool keeps only DB_POOL_SIZE idle), a new PostgreSQL
        # backend per burst. Overflow is for the sessions. The replica's reads have their own.
        self._driver_slots = asyncio.Semaphore(settings.db_pool_size)
        self._commit_signals: dict[str, asyncio.Event] = {}

        # The replica (DATABASE_REPLICA_URL): reads that may lag; see open_read_session.
        replica_url = settings.database_replica_url
        if replica_url and (self.is_sqlite or is_sqlite(normalize_database_url(replica_url))):
            raise ValueError("DATABASE_REPLICA_URL needs PostgreSQL (a streaming replica of DATABASE_URL)")
        self.replica_engine = create_engine(settings, replica_url) if replica_url else None
        self.replica_sessionmaker = (
            async_sessionmaker(self.replica_engine, expire_on_commit=False) if self.replica_engine else None
        )
        self._replica_slots = asyncio.Semaphore(settings.db_pool_size)
        self._replica_down_until = 0.0

    def commit_signal(self, name: str) -> asyncio.Event:
        """Set whenever a transaction of this process that called signal_on_commit(name) commits."""
        return self._commit_signals.setdefault(name, asyncio.Event())

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
        if self.replica_engine is not None:
            await self.replica_engine.dispose()

    async def primary_lsn(self) -> str | None:
        """The primary's WAL position now, after a commit: a read that sends it back in
        X-Consistent-After sees that commit. None without a replica (every read is on the primary)."""
        if self.replica_engine is None:
            return None
        row = await self.fetch_raw("SELECT pg_current_wal_lsn()::text AS lsn", [])
        return str(row["lsn"])

    async def open_read_session(self, consistent_after: str | None = None) -> AsyncSession:
        """The one place that chooses where a read goes: the replica when there is one, it answers,
        and it has replayed `consistent_after` (a WAL position a write answered); else the primary.
        A replica that cannot be reached is skipped for DB_REPLICA_RETRY_SECONDS."""
        if self.replica_sessionmaker is None or not self._replica_usable(consistent_after):
            return await open_session(self, write=False)
        session = self.replica_sessionmaker(info={ON_REPLICA: True})
        try:
            if consistent_after is None:
                await session.connection()
            elif not await _has_replayed(session, consistent_after):
                await session.close()
                return await open_session(self, write=False)
        except Exception as error:
            await session.close()
            if not is_database_unavailable(error):
                raise
            self._replica_failed(error)
            return await open_session(self, write=False)
        return session

    @asynccontextmanager
    async def read_session(self, consistent_after: str | None = None) -> AsyncIterator[AsyncSession]:
        """A read-only session (see open_read_session), closed on exit, e.g. for a streamed export."""
        session = await self.open_read_session(consistent_after)
        try:
            yield session
        finally:
            await session.close()

    async def fetch_raw(self, sql: str, parameters: list[Any]) -> Any:
        """One row of a read run on the driver (app/db/reads.py) on the primary, None when none."""
        if self.is_sqlite:
            # A local file: a microsecond read, cheaper in the event loop than a thread hop.
            return self._sqlite_connection().execute(sql, parameters).fetchone()
        return await self._on_driver(self.engine, self._driver_slots, "fetchrow", sql, parameters)

    async def fetch_rows(
        self, sql: str, parameters: list[Any], *, replica: bool, consistent_after: str | None
    ) -> list[Any]:
        """Every row of a read run on the driver: on the replica when `replica`, there is one, it
        answers and it has replayed `consistent_after`, else on the primary (the same choice as
        open_read_session makes for a session)."""
        if self.is_sqlite:
            return self._sqlite_connection().execute(sql, parameters).fetchall()
        if replica and self._replica_usable(consistent_after):
            assert self.replica_engine is not None
            try:
                rows = await self._on_driver(
                    self.replica_engine, self._replica_slots, "fetch", sql, parameters, consistent_after
                )
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                self._replica_failed(error)
            else:
                if rows is not None:
                    return list(rows)
        return list(await self._on_driver(self.engine, self._driver_slots, "fetch", sql, parameters))

    def _replica_usable(self, consistent_after: str | None) -> bool:
        if self.replica_engine is None or time.monotonic() < self._replica_down_until:
            return False
        return consistent_after is None or _LSN.match(consistent_after) is not None

    def _replica_failed(self, error: BaseException) -> None:
        logger.warning("replica unavailable, reading from the primary: %s", error)
        self._replica_down_until = time.monotonic() + self.settings.db_replica_retry_seconds

    async def _on_driver(
        self,
        engine: AsyncEngine,
        slots: asyncio.Semaphore,
        method: str,
        sql: str,
        parameters: list[Any],
        consistent_after: str | None = None,
    ) -> Any:
        """One read on the driver connection of a connection borrowed from the engine's pool: the
        same connections as the sessions use, so one budget (DB_POOL_SIZE + DB_MAX_OVERFLOW).
        No transaction is begun, so giving it back costs nothing (the pool's rollback-on-return
        has nothing to roll back and sends nothing). Checkout, read and return run in one
        greenlet, as SQLAlchemy's own calls do: the pool may need to close a connection on return.
        With `consistent_after` (a replica), None when the replica has not replayed it yet."""
        if slots.locked():  # only a wait needs the (costlier) timeout around it
            async with asyncio.timeout(engine.pool.timeout()):  # type: ignore[attr-defined]
                await slots.acquire()
        else:
            await slots.acquire()
        token = SKIP_CHECKOUT_PING.set(True)
        try:
            return await greenlet_spawn(
                self._read_on_pooled_connection, engine, method, sql, parameters, consistent_after
            )
        finally:
            SKIP_CHECKOUT_PING.reset(token)
            slots.release()

    @staticmethod
    def _read_on_pooled_connection(
        engine: AsyncEngine, method: str, sql: str, parameters: list[Any], consistent_after: str | None
    ) -> Any:
        for attempt in (1, 2):
            pooled = engine.sync_engine.raw_connection()
            driver: Any = pooled.driver_connection
            try:
                # Replay only moves forward: a replica that has replayed the position before the
                # read has replayed it for the read too.
                if consistent_after is not None and not await_(
                    driver.fetchval(_HAS_REPLAYED, consistent_after)
                ):
                    row = None
                else:
                    row = await_(getattr(driver, method)(sql, *parameters))
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
            register_sqlite_functions(connection)
            self._sqlite = connection
        return self._sqlite


_HAS_REPLAYED = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"


async def _has_replayed(session: AsyncSession, lsn: str) -> bool:
    statement = text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn), false)")
    return bool((await session.execute(statement, {"lsn": lsn})).scalar_one())


async def open_session(db: Database, *, write: bool) -> AsyncSession:
    session = db.sessionmaker()
    if write and db.is_sqlite:
        await session.connection(execution_options={"sqlite_immediate": True})
    return session


class UnitOfWork:
    """One transaction: commit on success, roll back on any exception. The only place that
    commits: each request's (app/routers/deps.py::unit_of_work), the CLI's, the demo data's."""

    def __init__(
        self, db: Database, *, write: bool = True, replica: bool = False, consistent_after: str | None = None
    ) -> None:
        """`replica`: a read that may go to the replica (Database.open_read_session)."""
        self.db = db
        self.write = write
        self.replica = replica and not write
        self.consistent_after = consistent_after
        self.session: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        if self.replica:
            self.session = await self.db.open_read_session(self.consistent_after)
        else:
            self.session = await open_session(self.db, write=self.write)
        return self.session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.session is not None
        try:
            if exc_type is None:
                await self.session.commit()
                for name in self.session.info.pop(_COMMIT_SIGNALS, ()):
                    self.db.commit_signal(name).set()
            else:
                await self.session.rollback()
        finally:
            self.session.info.pop(_COMMIT_SIGNALS, None)
            await self.session.close()
