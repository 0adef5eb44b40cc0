import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from app.csv_cells import CsvWriter
from app.currencies import amount_text
from app.enums import ReportDimension, ReportPeriod
from app.routers.deps import InfrastructureReader, Uow
from app.routers.route import ApiRoute
from app.routers.sessions import Filters
from app.schemas.reports import SessionReport
from app.services import reports as service

router = APIRouter(route_class=ApiRoute, prefix="/sessions", tags=["sessions"])

MAX_RANGE = timedelta(days=3 * 366 + 1)
CSV_COLUMNS = (
    "period_start", "period_start_at", "group_by", "id", "name", "uid", "currency", "session_count",
    "energy_kwh", "cost",
)  # fmt: skip


class ReportQuery:
    """The session list's filters (`session_filters`: the totals equal the export's with the same
    filters), both ends of the range or neither (the current month), and the report's shape."""

    def __init__(
        self,
        filters: Filters,
        group_by: Annotated[ReportDimension, Query()] = ReportDimension.user_group,
        period: Annotated[ReportPeriod, Query()] = ReportPeriod.month,
    ) -> None:
        started_from, started_until = filters.started_from, filters.started_until
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
        self.group_by, self.period, self.filters = group_by, period, filters


Params = Annotated[ReportQuery, Depends()]


def _utc(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _read(report: service.Report, query: ReportQuery) -> dict[str, Any]:
    """The report as `SessionReport` shows it, built as plain JSON values: a month of rows per card
    or per group and day is 10^5 rows, which a pydantic model per row would take seconds to build
    (the tests check the result against the model)."""
    zone = report.time_zone
    starts: dict[date, str] = {}
    rows = []
    for row in report.rows:
        start = starts.get(row.period_start)
        if start is None:
            start = starts[row.period_start] = _utc(service.period_start_at(row.period_start, zone))
        rows.append(
            {
                "period_start": row.period_start.isoformat(),
                "period_start_at": start,
                "id": None if row.key.id is None else str(row.key.id),
                "name": row.key.name,
                "uid": row.key.uid,
                "currency": row.currency,
                "session_count": row.session_count,
                "energy_kwh": _number(row.energy_kwh),
                "cost": None if row.cost is None else amount_text(row.cost, row.currency),
            }
        )
    return {
        "group_by": query.group_by.value,
        "period": query.period.value,
        "time_zone": zone.key,
        "started_from": _utc(report.started_from),
        "started_until": _utc(report.started_until),
        "rows": rows,
        "totals": [
            {
                "currency": total.currency,
                "session_count": total.session_count,
                "energy_kwh": _number(total.energy_kwh),
                "cost": None if total.cost is None else amount_text(total.cost, total.currency),
            }
            for total in report.totals
        ],
    }


def _joined(report: service.ReportJson, query: ReportQuery) -> bytes:
    """The report PostgreSQL wrote (`SessionReport`'s shape): only the head is written here."""
    head = {
        "group_by": query.group_by.value,
        "period": query.period.value,
        "time_zone": report.time_zone.key,
        "started_from": _utc(report.started_from),
        "started_until": _utc(report.started_until),
    }
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    parts = (opening, ',"rows":[', ",".join(report.rows), '],"totals":[', report.totals, "]}")
    return "".join(parts).encode()


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


@router.get("/report", response_model=SessionReport)
async def get_session_report(ctx: InfrastructureReader, session: Uow, query: Params) -> Response:
    """Count, energy and documented cost of the sessions that started in the range
    (`started_from` inclusive, `started_until` exclusive, both or neither, at most 3 years apart; by
    default the current month of the organization's time zone), per user group, charging group or
    card (`group_by`) and per day, week (from Monday) or month (`period`) of the organization's time
    zone (`GET /v1/organization`); per currency, never summed across currencies. The filters are
    those of `GET /v1/sessions`, and the totals equal the sum of `GET /v1/sessions/export.csv` with
    the same filters. The whole report is one answer (no pages): a month per card at a million
    cards is about 30 MB; `report.csv` has the same rows."""
    written = await service.session_report_json(session, ctx, query.filters, query.group_by, query.period)
    if written is not None:
        return Response(content=_joined(written, query), media_type="application/json")
    report = await service.session_report(session, ctx, query.filters, query.group_by, query.period)
    body = json.dumps(_read(report, query), ensure_ascii=False, separators=(",", ":"))
    return Response(content=body.encode(), media_type="application/json")


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


async def _lines(report: dict[str, Any]) -> AsyncIterator[str]:
    writer = CsvWriter()
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        # Numbers are written as numbers (Decimal), so only the names are text the writer guards.
        writer.writerow(
            (
                row["period_start"], row["period_start_at"], report["group_by"], row["id"], row["name"],
                row["uid"], row["currency"], row["session_count"], Decimal(row["energy_kwh"]),
                None if row["cost"] is None else Decimal(row["cost"]),
            )
        )  # fmt: skip
    yield writer.take()
