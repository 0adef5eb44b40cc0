"""Periodic work each worker does in the background: purging expired idempotency records.

Every worker runs it; the purge is one idempotent DELETE, so running it in several places at once
is harmless and nothing needs a manual step or a scheduler.
"""

import asyncio
import logging

from app.db import Database, UnitOfWork
from app.services import idempotency

logger = logging.getLogger("app.housekeeping")


async def purge_idempotency_records(db: Database) -> int:
    async with UnitOfWork(db) as session:
        return await idempotency.purge(session)


async def run_housekeeping(db: Database, interval_seconds: float) -> None:
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            purged = await purge_idempotency_records(db)
        except Exception:  # a database outage must not end the loop; the next round retries
            logger.warning("purging expired idempotency records failed", exc_info=True)
        else:
            if purged:
                logger.info("purged %d expired idempotency records", purged)
