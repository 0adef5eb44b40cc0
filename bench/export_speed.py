"""The sessions CSV export against the database's own limit, in one run (issue 15, item 1).

Each repetition: `GET /v1/sessions/export.csv` of all the organization's sessions through the real
server (rows/s, worker RSS growth), then, on PostgreSQL, `COPY (SELECT <the export's columns> FROM
charging_sessions WHERE organization_id = ... ORDER BY created_at, id) TO STDOUT (FORMAT csv)` of
the same rows on the same database, read by asyncpg into a sink that only counts (rows/s). The
ratio is export / COPY within the repetition; the verdict is the median over the repetitions.

Inside bench/run.py (`measure`, `targets`), or alone on databases `python -m bench.datagen` built:
    BENCH_DB_PREFIX=ugs_bench_export .venv/bin/python -m bench.export_speed --scale 0.2 --db pg,sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.repositories.session_export import COLUMNS

from bench import harness
from bench.common import RESULTS_DIR, log, pg_url, read_meta

TARGETS = {"pg_copy_ratio": 0.5, "sqlite_rows_per_s": 100_000.0, "rss_growth_mb": 50.0}


async def _copy_rows_per_s(url: str, organization_id: str) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    columns = ", ".join(column for _, _, column in COLUMNS)
    query = (
        f"SELECT {columns} FROM charging_sessions WHERE organization_id = '{organization_id}'"
        " ORDER BY created_at, id"
    )
    counted = {"bytes": 0, "rows": 0}

    async def sink(chunk: bytes) -> None:
        counted["bytes"] += len(chunk)
        counted["rows"] += chunk.count(b"\n")  # no newline inside the generated data's cells

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET statement_timeout = 0")
        started = time.perf_counter()
        await connection.copy_from_query(query, output=sink, format="csv", timeout=3600)
        seconds = time.perf_counter() - started
    finally:
        await connection.close()
    return {**counted, "seconds": round(seconds, 3), "rows_per_s": round(counted["rows"] / seconds, 1)}


def _organization_id(url: str) -> str:
    import asyncpg

    async def one() -> str:
        connection = await asyncpg.connect(url)
        try:
            return str(await connection.fetchval("SELECT organization_id FROM charging_sessions LIMIT 1"))
        finally:
            await connection.close()

    return asyncio.run(one())


def measure(
    server: harness.Server, key: str, expected_rows: int, runs: int = 3, quiet_wait: float = 30.0
) -> dict[str, Any]:
    from bench.run import export_csv, wait_for_quiet  # bench.run imports this module

    url = pg_url(server.scale) if server.kind == "pg" else None
    organization = _organization_id(url) if url else None
    repetitions = []
    for _ in range(runs):
        quiet = wait_for_quiet(quiet_wait)
        load = os.getloadavg()
        export = export_csv(server, key, expected_rows)
        repetition: dict[str, Any] = {
            "quiet": quiet,
            "loadavg": [round(x, 2) for x in load],
            "export": export,
        }
        if url and organization:
            copy = asyncio.run(_copy_rows_per_s(url, organization))
            repetition["copy"] = copy
            repetition["ratio"] = round(export["rows_per_s"] / copy["rows_per_s"], 3)
            log(f"export {export['rows_per_s']:,.0f} rows/s, COPY {copy['rows_per_s']:,.0f} rows/s")
        repetitions.append(repetition)
    result: dict[str, Any] = {
        "runs": repetitions,
        "rows_per_s_median": statistics.median(r["export"]["rows_per_s"] for r in repetitions),
        "rss_growth_mb_max": max(r["export"]["rss_growth_mb"] for r in repetitions),
        "rows_ok": all(r["export"]["rows"] == expected_rows for r in repetitions),
    }
    if url:
        result["copy_rows_per_s_median"] = statistics.median(r["copy"]["rows_per_s"] for r in repetitions)
        result["ratio_median"] = statistics.median(r["ratio"] for r in repetitions)
    return result


def targets(kind: str, res: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for bench/run.py's target table."""
    speed = res.get("export_speed")
    if not speed:
        return []

    def row(key: str, title: str, measured: Any, target: str, passed: bool, unit: str = "") -> dict[str, Any]:
        return {
            "db": kind,
            "key": key,
            "title": title,
            "measured": measured,
            "target": target,
            "pass": passed,
            "unit": unit,
        }

    growth = TARGETS["rss_growth_mb"]
    rows = [
        row(
            "export_speed_rss",
            "CSV export: worker RSS growth (max over runs)",
            speed["rss_growth_mb_max"],
            f"< {growth:g}",
            speed["rss_growth_mb_max"] < growth,
            "MB",
        ),
        row(
            "export_speed_rows",
            "CSV export: every row, every run",
            speed["rows_ok"],
            "= True",
            speed["rows_ok"],
        ),
    ]
    if kind == "pg":
        goal = TARGETS["pg_copy_ratio"]
        rows.append(
            row(
                "export_copy_ratio",
                "CSV export rows/s / COPY rows/s (median)",
                speed["ratio_median"],
                f">= {goal}",
                speed["ratio_median"] >= goal,
            )
        )
    else:
        goal = TARGETS["sqlite_rows_per_s"]
        rows.append(
            row(
                "export_rows_per_s",
                "CSV export rows/s (median)",
                speed["rows_per_s_median"],
                f">= {goal:g}",
                speed["rows_per_s_median"] >= goal,
                "rows/s",
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_speed")
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--db", default="pg,sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="as bench/run.sh's (seconds)")
    args = parser.parse_args()
    out = RESULTS_DIR / f"export-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    results: dict[str, Any] = {"scale": args.scale, "runs": args.runs}
    rows: list[dict[str, Any]] = []
    for kind in args.db.split(","):
        meta = read_meta(kind, args.scale)
        if meta is None:
            raise SystemExit(
                f"no {kind} database at scale {args.scale}: python -m bench.datagen {args.scale} {kind}"
            )
        server = harness.Server(
            kind, args.scale, harness.free_port(18480), 1, out / "logs" / f"server-{kind}.log"
        )
        server.start()
        try:
            speed = measure(
                server,
                meta["keys"]["admin"]["key"],
                meta["rows"]["charging_sessions"],
                args.runs,
                args.quiet_wait,
            )
        finally:
            server.stop()
        results[kind] = {"export_speed": speed}
        rows += targets(kind, results[kind])
    results["targets"] = rows
    Path(out).mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(results, indent=2) + "\n")
    for r in rows:
        verdict = "PASS" if r["pass"] else "FAIL"
        log(f"{r['db']:6} {r['title']}: {r['measured']} (target {r['target']}) {verdict}")
    log(f"written {out / 'result.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
