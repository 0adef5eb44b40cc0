"""CPU time of one session report on the full-size PostgreSQL database, the two ways the service can
build it, alternated in one run: the JSON PostgreSQL writes (`report_json`, what PostgreSQL answers
with now) and the rows taken into Python, rounded, sorted, shaped and `json.dumps`-ed (what SQLite
and `report.csv` still do, and what PostgreSQL's JSON did before).

CPU time (this process + the PostgreSQL backend that ran the statements, from /proc) is what a
request costs whatever else the machine runs; wall time on a machine shared with other work is
printed beside it, with the load average, but says little.

    BENCH_DB_PREFIX=... .venv/bin/python -m bench.report_cpu [--runs 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app.enums import ReportDimension, ReportPeriod
from app.repositories.report_json import ReportJsonRepository
from app.repositories.reports import ReportRepository
from app.repositories.sessions import SessionFilters
from app.routers import reports as router
from app.services import reports as service
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.common import database_url
from bench.operator_tools import REPORT_SHAPES, last_full_month

TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class _Shape:
    def __init__(self, group_by: ReportDimension, period: ReportPeriod) -> None:
        self.group_by, self.period = group_by, period


async def _database_json(
    session: AsyncSession, org: Any, filters: SessionFilters, shape: _Shape, zone: Any
) -> bytes:
    written = await ReportJsonRepository(session, org).report_json(
        filters, shape.group_by, shape.period, zone
    )
    assert written is not None
    report = service.ReportJson(
        zone, filters.started_from, filters.started_until, written.rows, written.totals
    )  # type: ignore[arg-type]
    return router._joined(report, shape)  # type: ignore[arg-type]


async def _python_json(
    session: AsyncSession, org: Any, filters: SessionFilters, shape: _Shape, zone: Any
) -> bytes:
    rows = await ReportRepository(session, org).session_report(filters, shape.group_by, shape.period, zone)
    for row in rows:
        if row.cost is not None and row.currency is not None:
            row.cost = service.round_half_up(row.cost, row.currency)
    rows.sort(
        key=lambda r: (
            r.period_start,
            r.key.name or "",
            str(r.key.id or ""),
            r.key.uid or "",
            r.currency or "",
        )
    )
    report = service.Report(zone, filters.started_from, filters.started_until, rows, [])  # type: ignore[arg-type]
    body = router._read(report, shape)  # type: ignore[arg-type]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def measure(scale: float, runs: int) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    engine = create_async_engine(database_url("pg", scale).replace("postgresql://", "postgresql+asyncpg://"))
    started_from, started_until = (datetime.fromisoformat(t) for t in last_full_month(datetime.now(UTC)))
    filters = replace(SessionFilters(), started_from=started_from, started_until=started_until)
    out: dict[str, Any] = {}
    try:
        for _ in range(runs):
            for group_by, period in REPORT_SHAPES:
                shape = _Shape(ReportDimension(group_by), ReportPeriod(period))
                for name, build in (("database_json", _database_json), ("python_json", _python_json)):
                    async with AsyncSession(engine) as session:
                        org = (await session.execute(text("SELECT id FROM organizations"))).scalar_one()
                        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                        pg0, py0, wall0 = _process_cpu(pid), time.process_time(), time.perf_counter()
                        body = await build(session, org, filters, shape, ZoneInfo("UTC"))
                        pg1, py1, wall1 = _process_cpu(pid), time.process_time(), time.perf_counter()
                    run = {
                        "cpu_s": round(pg1 - pg0 + py1 - py0, 2),
                        "postgres_cpu_s": round(pg1 - pg0, 2),
                        "python_cpu_s": round(py1 - py0, 2),
                        "wall_s": round(wall1 - wall0, 2),
                        "bytes": len(body),
                        "load_average_1m": round(os.getloadavg()[0], 1),
                    }
                    out.setdefault(f"{group_by}/{period}", {}).setdefault(name, []).append(run)
                    print(f"{group_by}/{period} {name}: {run}", flush=True)
    finally:
        await engine.dispose()
    for variants in out.values():
        medians = {name: statistics.median(r["cpu_s"] for r in runs) for name, runs in variants.items()}
        variants["cpu_ratio_database_to_python"] = round(medians["database_json"] / medians["python_json"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(measure(args.scale, args.runs))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
