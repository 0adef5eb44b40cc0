"""The sessions CSV export: the lines as the database renders them (app/repositories/session_export.py);
on SQLite, Python writes the amounts and the tariff, through `CsvWriter` a batch at a time."""

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.csv_cells import CsvWriter, neutralize
from app.currencies import amount_text
from app.repositories.session_export import COLUMNS, PYTHON_KINDS, SessionExportRepository
from app.repositories.sessions import SessionFilters
from app.services.context import RequestContext

__all__ = ["HEADER", "describe_tariff", "sessions_csv"]

HEADER = ",".join(f'"{name}"' for name, _, _ in COLUMNS).encode() + b"\r\n"
_ENERGY, _COST, _TARIFF = (next(i for i, c in enumerate(COLUMNS) if c[1] == kind) for kind in PYTHON_KINDS)


async def sessions_csv(
    session: AsyncSession, ctx: RequestContext, filters: SessionFilters
) -> AsyncIterator[bytes]:
    """Every matching session, oldest first, as CSV in constant memory (header first)."""
    repository = SessionExportRepository(session, ctx.organization_id)
    yield HEADER
    if session.get_bind().dialect.name == "postgresql":
        async for chunk in repository.postgres_lines(filters):
            yield chunk
        return
    writer = CsvWriter()
    async for rows in repository.sqlite_batches(filters):
        writer.write_rendered(map(_row, rows))
        yield writer.take().encode()


def _row(selected: tuple[Any, ...]) -> list[Any]:
    """The cells in COLUMNS' order (positions found by kind, above), then the raw currency."""
    *cells, currency = selected
    energy, cost = cells[_ENERGY], cells[_COST]
    cells[_ENERGY] = "" if energy is None else format(Decimal(energy).normalize(), "f")
    cells[_COST] = "" if cost is None else amount_text(Decimal(cost), currency)
    cells[_TARIFF] = _tariff_cell(cells[_TARIFF])
    return cells


@lru_cache(maxsize=8192)  # sessions share their tariff's snapshot: the same text, over and over
def _tariff_cell(stored: str | None) -> str:
    return neutralize(describe_tariff(None if stored is None else json.loads(stored)))


def describe_tariff(snapshot: dict[str, Any] | None) -> str:
    if not snapshot:
        return ""
    currency = snapshot["currency"]

    def amount(name: str) -> str:
        return amount_text(Decimal(snapshot[name]), currency)

    parts = [f"{currency} {amount('price_per_kwh')}/kWh"]
    if snapshot.get("session_fee") is not None:
        parts.append(f"{amount('session_fee')}/session")
    if snapshot.get("parking_fee_per_hour") is not None:
        grace = snapshot.get("parking_grace_minutes") or 0
        parts.append(f"{amount('parking_fee_per_hour')}/h parking after {grace} min")
    return " + ".join(parts)
