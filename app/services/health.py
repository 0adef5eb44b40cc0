"""Readiness: the database answers, and its schema is the one this code was written for."""

import asyncio
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    status: str


@cache
def migration_heads() -> frozenset[str]:
    """The head revision(s) of migrations/, read once per process."""
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


async def database_ready(engine: AsyncEngine, timeout_seconds: float = 1.0) -> Readiness:
    """Ready only when the database answers within the timeout and holds exactly the head
    revision: an empty or half-migrated database would fail every request with a 500, and one
    migrated by a newer release may hold a schema this code cannot read."""
    expected = migration_heads()
    answered = False
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            answered = True
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            found = frozenset(rows.scalars())
    except Exception as error:  # any failure means "not ready"; the reason goes to the log
        if answered and not isinstance(error, TimeoutError):
            logger.warning("readiness: no migrations applied to the database (%s)", type(error).__name__)
            return Readiness(False, "database not migrated; run: ugs migrate")
        logger.warning("readiness check failed: %s", type(error).__name__)
        return Readiness(False, "database unavailable")
    if found != expected:
        logger.warning(
            "readiness: database at revision %s, this code expects %s",
            ",".join(sorted(found)) or "(none)",
            ",".join(sorted(expected)),
        )
        return Readiness(False, "database schema is not at the migration head; run: ugs migrate")
    return Readiness(True, "ok")
