"""The operator's tools under the benchmark: bulk card actions against the bulk add, and session
reports over one month of the full-size organization."""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bench import harness
from bench.common import BENCH_WRITE_UID_PREFIX, log

REPORT_TARGET_S = 2.0
REPORT_RUNS = 3
REPORT_SHAPES = (
    ("user_group", "month"),
    ("user_group", "day"),
    ("charging_group", "week"),
    ("card", "month"),
)


def bulk_actions(
    server: harness.Server, key: str, groups: list[str], bulk_requests: int, run_tag: str
) -> dict[str, Any]:
    """Blocks, then unblocks, each batch of cards the bulk adds wrote (found by filter: their UID
    prefix), one request per action; time per card as for the bulk add."""
    requests = []
    for i in range(bulk_requests):
        group = groups[(i * 7919) % len(groups)]  # where bulk_adds put batch i
        for action in ("block", "unblock"):
            body = json.dumps(
                {"action": action, "filter": {"q": f"{BENCH_WRITE_UID_PREFIX}{run_tag}B{i:02d}"}}
            ).encode()
            before = harness.snapshot(server)
            started = time.perf_counter()
            status, _, raw = harness.request(
                "127.0.0.1", server.port, "POST", f"/v1/user-groups/{group}/cards/actions", body,
                harness.auth(key, True), timeout=900,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            after = harness.snapshot(server)
            if status != 200:
                raise RuntimeError(f"bulk {action} answered {status}: {raw[:500]!r}")
            count = int(json.loads(raw)["count"])
            requests.append(
                {
                    "action": action,
                    "cards": count,
                    "seconds": round(seconds, 3),
                    "ms_per_card": round(seconds * 1000 / max(count, 1), 4),
                    "server_cpu_us_per_card": round((after.server - before.server) * 1e6 / max(count, 1), 1),
                    "postgres_cpu_us_per_card": round(after.postgres_since(before) * 1e6 / max(count, 1), 1)
                    if server.kind == "pg"
                    else None,
                    "other_cores": after.other_cores_since(before),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                }
            )
            log(
                f"bulk {action} of {count} cards: {seconds:.2f} s ({requests[-1]['ms_per_card']} ms per card)"
            )
    per_card = statistics.median(float(r["ms_per_card"]) for r in requests) if requests else None
    return {"requests": requests, "ms_per_card_median": per_card}


def last_full_month(now: datetime | None = None) -> tuple[str, str]:
    now = now or datetime.now(UTC)
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (this_month.replace(month=12, year=this_month.year - 1) if this_month.month == 1
                else this_month.replace(month=this_month.month - 1))  # fmt: skip
    return previous.isoformat(), this_month.isoformat()


def session_reports(server: harness.Server, key: str) -> dict[str, Any]:
    """`GET /v1/sessions/report` over the last full calendar month, in three shapes, each run
    REPORT_RUNS times (the first on a cold cache for its plan); the slowest run is the verdict."""
    started_from, started_until = last_full_month()
    shapes: dict[str, Any] = {}
    for group_by, period in REPORT_SHAPES:
        query = urlencode(
            {
                "started_from": started_from,
                "started_until": started_until,
                "group_by": group_by,
                "period": period,
            }
        )
        runs = []
        for _ in range(REPORT_RUNS):
            started = time.perf_counter()
            status, _, raw = harness.request(
                "127.0.0.1",
                server.port,
                "GET",
                f"/v1/sessions/report?{query}",
                None,
                harness.auth(key),
                timeout=120,
            )
            seconds = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"report answered {status}: {raw[:500]!r}")
            body = json.loads(raw)
            runs.append(
                {
                    "seconds": round(seconds, 3),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "rows": len(body["rows"]),
                    "sessions": sum(total["session_count"] for total in body["totals"]),
                    "bytes": len(raw),
                }
            )
        shapes[f"{group_by}/{period}"] = {
            "runs": runs,
            "max_s": max(run["seconds"] for run in runs),
            "median_s": statistics.median(run["seconds"] for run in runs),
        }
        log(f"report {group_by}/{period}: {runs[-1]['sessions']} sessions, {runs[-1]['rows']} rows, "
            f"max {shapes[f'{group_by}/{period}']['max_s']:.2f} s")  # fmt: skip
    return {
        "started_from": started_from,
        "started_until": started_until,
        "shapes": shapes,
        "max_s": max(shape["max_s"] for shape in shapes.values()),
    }


def compare_bulk(bulk_add_ms_per_card: float, actions: dict[str, Any]) -> dict[str, Any]:
    """The issue's bar: a bulk card action costs no more per card than the bulk add (same run)."""
    action_ms = actions["ms_per_card_median"]
    return {
        "bulk_add_ms_per_card": bulk_add_ms_per_card,
        "bulk_action_ms_per_card": action_ms,
        "ratio": round(action_ms / bulk_add_ms_per_card, 3) if action_ms and bulk_add_ms_per_card else None,
    }


def markdown(res: dict[str, Any]) -> list[str]:
    """The operator's tools section of report.md."""
    out: list[str] = []
    cards, actions = res.get("cards"), res.get("bulk_actions")
    if cards and actions:
        compared = compare_bulk(cards["bulk_ms_per_card"], actions)
        adds = ", ".join(f"{r['seconds']:.2f} s" for r in cards["bulk"]["requests"])
        each = ", ".join(f"{r['action']} {r['cards']:,} in {r['seconds']:.2f} s" for r in actions["requests"])
        out += [
            "**Bulk card actions against the bulk add** (same server, same run):\n",
            f"* bulk add, {len(cards['bulk']['requests'])} requests of "
            f"{cards['bulk']['requests'][0]['cards']:,} new cards: {adds} → "
            f"**{compared['bulk_add_ms_per_card']:.4f} ms per card** (median);",
            f"* bulk actions by filter on those cards: {each} → "
            f"**{compared['bulk_action_ms_per_card']:.4f} ms per card** (median);",
            f"* action / add per card: **{compared['ratio']}** (target ≤ 1).\n",
        ]
    report = res.get("session_report")
    if report:
        out += [
            f"**Session reports** (`GET /v1/sessions/report`, {report['started_from'][:10]} to "
            f"{report['started_until'][:10]}, {REPORT_RUNS} runs each; load average at each run):\n",
            "| shape | rows | sessions | JSON | runs (s) | load average | slowest |",
            "|---|---:|---:|---:|---|---|---:|",
        ]
        for shape, measured in report["shapes"].items():
            runs = measured["runs"]
            seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs)
            loads = ", ".join(str(r.get("load_average_1m", "–")) for r in runs)
            out.append(
                f"| {shape} | {runs[-1]['rows']:,} | {runs[-1]['sessions']:,} | "
                f"{runs[-1]['bytes'] / 1e6:.1f} MB | {seconds} | {loads} | {measured['max_s']:.2f} s |"
            )
        out.append("")
    return out
