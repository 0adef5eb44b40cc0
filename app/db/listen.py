"""PostgreSQL LISTEN on a connection of its own: wakes a waiting loop (the webhook worker) when
another process's transaction that sent NOTIFY on the channel commits. A wake-up only; whoever
waits also polls, so a lost connection or a missed notification delays work, never loses it."""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from app.db.database import Database
from app.db.engine import APPLICATION_NAME

logger = logging.getLogger("app.db")
RECONNECT_SECONDS = 5.0


async def listen(db: Database, channel: str, wake: asyncio.Event) -> None:
    """Sets `wake` on every notification on `channel` until cancelled; reconnects after a loss.
    Returns at once on SQLite (one process writes there; the commit signal wakes it) and behind
    PgBouncer in transaction pooling mode, which does not carry LISTEN (the server connection that
    ran it goes back to the pool, and its notifications to nobody): the worker polls there."""
    if db.is_sqlite:
        return
    if db.settings.database_pgbouncer:
        logger.info("LISTEN %s: not behind PgBouncer (transaction pooling); polling instead", channel)
        return
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    timeout = db.settings.db_request_timeout_seconds
    while True:
        try:
            connection = await asyncpg.connect(
                dsn, timeout=timeout, server_settings={"application_name": APPLICATION_NAME}
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            logger.warning("LISTEN %s: cannot connect, polling meanwhile", channel, exc_info=True)
            await asyncio.sleep(RECONNECT_SECONDS)
            continue
        try:
            await _until_lost(connection, channel, wake)
        except (OSError, asyncpg.PostgresError) as error:
            logger.warning("LISTEN %s lost: %s", channel, error)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout)
        await asyncio.sleep(RECONNECT_SECONDS)


async def _until_lost(connection: Any, channel: str, wake: asyncio.Event) -> None:
    lost = asyncio.Event()

    def notified(*_: Any) -> None:
        wake.set()

    def terminated(*_: Any) -> None:
        lost.set()

    connection.add_termination_listener(terminated)
    await connection.add_listener(channel, notified)
    wake.set()  # what was committed while not listening
    await lost.wait()
