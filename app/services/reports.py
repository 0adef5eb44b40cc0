"""Session reports: count, energy and documented cost per user group, charging group or card, per
day, week or month of the organization's time zone. Amounts are summed per currency, never across
currencies; every session the filters select is counted (sessions without a tariff under currency
null, free charging under user group null), so the totals equal the sum of the session export with
the same filters."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.currencies import round_half_up
from app.enums import ReportDimension, ReportPeriod
from app.repositories.reports import ReportRepository, ReportRow
from app.repositories.sessions import SessionFilters
from app.services import organization
from app.services.context import RequestContext


@dataclass(frozen=True)
class Total:
    currency: str | None
    session_count: int
    energy_kwh: Decimal
    cost: Decimal | None


@dataclass(frozen=True)
class Report:
    time_zone: ZoneInfo
    rows: list[ReportRow]
    totals: list[Total]


def period_start_at(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local period starts (midnight there, whatever its offset)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


async def session_report(
    session: AsyncSession,
    ctx: RequestContext,
    filters: SessionFilters,
    dimension: ReportDimension,
    period: ReportPeriod,
) -> Report:
    zone = await organization.time_zone(session, ctx)
    rows = await ReportRepository(session, ctx.organization_id).session_report(
        filters, dimension, period, zone
    )
    for row in rows:
        if row.cost is not None and row.currency is not None:
            row.cost = round_half_up(row.cost, row.currency)  # sums of rounded costs: exact already
    rows.sort(
        key=lambda r: (
            r.period_start,
            r.key.name or "",
            str(r.key.id or ""),
            r.key.uid or "",
            r.currency or "",
        )
    )
    totals: dict[str | None, Total] = {}
    for row in rows:
        before = totals.get(row.currency, Total(row.currency, 0, Decimal(0), None))
        cost = before.cost if row.cost is None else (before.cost or Decimal(0)) + row.cost
        totals[row.currency] = Total(
            row.currency, before.session_count + row.session_count, before.energy_kwh + row.energy_kwh, cost
        )
    return Report(
        time_zone=zone,
        rows=rows,
        totals=[totals[currency] for currency in sorted(totals, key=lambda code: code or "")],
    )
