import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from app.csv_cells import CsvWriter
from app.currencies import amount_text
from app.enums import ReportDimension, ReportPeriod, SessionStatus
from app.routers.deps import InfrastructureReader, Uow
from app.routers.route import ApiRoute
from app.schemas.common import UtcDateTime
from app.schemas.reports import ReportRowRead, ReportTotal, SessionReport
from app.services import reports as service
from app.services.sessions import SessionFilters

router = APIRouter(route_class=ApiRoute, prefix="/sessions", tags=["sessions"])

MAX_RANGE = timedelta(days=3 * 366 + 1)
CSV_COLUMNS = (
    "period_start", "period_start_at", "group_by", "id", "name", "uid", "currency", "session_count",
    "energy_kwh", "cost",
)  # fmt: skip


class ReportQuery:
    def __init__(
        self,
        started_from: Annotated[
            UtcDateTime | None, Query(description="Inclusive (RFC 3339); omitted: the current month")
        ] = None,
        started_until: Annotated[
            UtcDateTime | None,
            Query(description="Exclusive (RFC 3339), at most 3 years on; omitted: the current month"),
        ] = None,
        group_by: Annotated[ReportDimension, Query()] = ReportDimension.user_group,
        period: Annotated[ReportPeriod, Query()] = ReportPeriod.month,
        user_group_id: Annotated[uuid.UUID | None, Query()] = None,
        card_id: Annotated[uuid.UUID | None, Query()] = None,
        charging_group_id: Annotated[uuid.UUID | None, Query()] = None,
        status: Annotated[SessionStatus | None, Query()] = None,
    ) -> None:
        if (started_from is None) != (started_until is None):
            missing = "started_from" if started_from is None else "started_until"
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", missing),
                        "msg": "give both ends of the range, or neither",
                        "type": "missing",
                    }
                ]
            )
        if (
            started_from
            and started_until
            and (started_until <= started_from or started_until - started_from > MAX_RANGE)
        ):
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "started_until"),
                        "msg": "must be after started_from and at most 3 years after it",
                        "type": "value_error",
                    }
                ]
            )
        self.group_by, self.period = group_by, period
        self.filters = SessionFilters(
            user_group_id=user_group_id,
            card_id=card_id,
            charging_group_id=charging_group_id,
            status=status,
            started_from=started_from,
            started_until=started_until,
        )


Params = Annotated[ReportQuery, Depends()]


def _read(report: service.Report, query: ReportQuery) -> SessionReport:
    zone = report.time_zone
    return SessionReport(
        group_by=query.group_by,
        period=query.period,
        time_zone=zone.key,
        started_from=report.started_from,
        started_until=report.started_until,
        rows=[
            ReportRowRead(
                period_start=row.period_start,
                period_start_at=service.period_start_at(row.period_start, zone),
                id=row.key.id,
                name=row.key.name,
                uid=row.key.uid,
                currency=row.currency,
                session_count=row.session_count,
                energy_kwh=row.energy_kwh,
                cost=row.cost,
            )
            for row in report.rows
        ],
        totals=[ReportTotal.model_validate(total, from_attributes=True) for total in report.totals],
    )


@router.get("/report", response_model=SessionReport)
async def get_session_report(ctx: InfrastructureReader, session: Uow, query: Params) -> SessionReport:
    """Count, energy and documented cost of the sessions that started in the range (by default the
    current month of the organization's time zone), per user group,
    charging group or card (`group_by`) and per day, week (from Monday) or month (`period`) of the
    organization's time zone (`GET /v1/organization`); per currency, never summed across currencies.
    The totals equal the sum of `GET /v1/sessions/export.csv` with the same filters."""
    report = await service.session_report(session, ctx, query.filters, query.group_by, query.period)
    return _read(report, query)


@router.get(
    "/report.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "One row a line"}
    },
)
async def export_session_report(ctx: InfrastructureReader, session: Uow, query: Params) -> StreamingResponse:
    """The report's rows as CSV (the totals are the sums of its columns per currency)."""
    report = _read(
        await service.session_report(session, ctx, query.filters, query.group_by, query.period), query
    )
    return StreamingResponse(
        _lines(report), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="session-report.csv"'},
    )  # fmt: skip


async def _lines(report: SessionReport) -> AsyncIterator[str]:
    writer = CsvWriter()
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        cost: Any = None if row.cost is None else Decimal(amount_text(row.cost, row.currency))
        writer.writerow(
            (
                row.period_start.isoformat(), row.period_start_at, report.group_by.value, row.id, row.name,
                row.uid, row.currency, row.session_count, row.energy_kwh.normalize(), cost,
            )
        )  # fmt: skip
    yield writer.take()
