"""Session reports: count, energy and documented cost per user group, charging group or card, per
day, week or month of the organization's time zone. Amounts are summed per currency, never across
currencies; every session the filters select is counted (sessions without a tariff under currency
null, free charging under user group null), so the totals equal the sum of the session export with
the same filters."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.currencies import round_half_up
from app.enums import ReportDimension, ReportPeriod
from app.repositories.report_json import ReportJsonRepository
from app.repositories.reports import ReportRepository, ReportRow, period_start_at

__all__ = [
    "Report",
    "ReportJson",
    "Total",
    "current_month",
    "period_start_at",
    "session_report",
    "session_report_json",
]
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
    started_from: datetime
    started_until: datetime
    rows: list[ReportRow]
    totals: list[Total]


def current_month(zone: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The local calendar month that holds `now`, as UTC instants [start, end)."""
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    first = today.replace(day=1)
    following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                 else first.replace(month=first.month + 1))  # fmt: skip
    return period_start_at(first, zone), period_start_at(following, zone)


@dataclass(frozen=True)
class ReportJson:
    """The report as PostgreSQL wrote it: each row and the totals as JSON text."""

    time_zone: ZoneInfo
    started_from: datetime
    started_until: datetime
    rows: list[str]
    totals: str


async def _in_range(
    session: AsyncSession, ctx: RequestContext, filters: SessionFilters
) -> tuple[ZoneInfo, SessionFilters]:
    zone = await organization.time_zone(session, ctx)
    if filters.started_from is None or filters.started_until is None:
        started_from, started_until = current_month(zone)
        filters = replace(filters, started_from=started_from, started_until=started_until)
    return zone, filters


async def session_report_json(
    session: AsyncSession,
    ctx: RequestContext,
    filters: SessionFilters,
    dimension: ReportDimension,
    period: ReportPeriod,
) -> ReportJson | None:
    """The report's JSON written by the database, on PostgreSQL; None on SQLite (no time zones
    there: the caller shapes `session_report`, which gives the same values)."""
    zone, filters = await _in_range(session, ctx, filters)
    assert filters.started_from is not None and filters.started_until is not None
    written = await ReportJsonRepository(session, ctx.organization_id).report_json(
        filters, dimension, period, zone
    )
    if written is None:
        return None
    return ReportJson(zone, filters.started_from, filters.started_until, written.rows, written.totals)


async def session_report(
    session: AsyncSession,
    ctx: RequestContext,
    filters: SessionFilters,
    dimension: ReportDimension,
    period: ReportPeriod,
) -> Report:
    zone, filters = await _in_range(session, ctx, filters)
    assert filters.started_from is not None and filters.started_until is not None
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
        started_from=filters.started_from,
        started_until=filters.started_until,
        rows=rows,
        totals=[totals[currency] for currency in sorted(totals, key=lambda code: code or "")],
    )
