import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)


async def database_ready(engine: AsyncEngine, timeout_seconds: float = 1.0) -> bool:
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception as error:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness check failed: %s", type(error).__name__)
        return False
