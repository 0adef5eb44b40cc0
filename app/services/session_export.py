"""The sessions CSV export: the lines as the database renders them (app/repositories/session_export.py);
on SQLite, Python writes any amount SQL does not write itself."""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.currencies import amount_text
from app.repositories.session_export import COLUMNS, SessionExportRepository
from app.repositories.sessions import SessionFilters
from app.services.context import RequestContext

__all__ = ["HEADER", "sessions_csv"]

HEADER = ",".join(f'"{name}"' for name, _, _ in COLUMNS).encode() + b"\r\n"


async def sessions_csv(
    session: AsyncSession, ctx: RequestContext, filters: SessionFilters
) -> AsyncGenerator[bytes]:
    """Every matching session, oldest first, as CSV in constant memory (header first)."""
    repository = SessionExportRepository(session, ctx.organization_id)
    yield HEADER
    if session.get_bind().dialect.name == "postgresql":
        lines = repository.postgres_lines(filters)
    else:
        lines = repository.sqlite_lines(filters, _amount_cell)
    # Closed with this generator (a client that leaves), not later by the garbage collector: the COPY's
    # connection is invalidated and SQLite's reader stopped at once.
    async with aclosing(lines):
        async for chunk in lines:
            yield chunk


def _amount_cell(stored: Any, currency: str | None) -> str:
    """An amount as stored (SQLite: `str(Decimal)`) in the currency's minor units; the energy (no
    currency) as Decimal.normalize writes it, which is the same rule."""
    return amount_text(Decimal(stored), currency)
