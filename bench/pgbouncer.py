"""POST /v1/authorize through PgBouncer (transaction pooling, tests/pgbouncer.py), in the same run
as the direct measurement: a second server on the same database, reached through a private
PgBouncer, measured between two ceilings of its own. Reported, with the direct ratio beside it."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Protocol

from tests.pgbouncer import running_pgbouncer, version

from bench import harness
from bench.common import database_url, log
from bench.harness import Load, Server


class Measures(Protocol):
    def measure(self, server: Server, load: Load) -> dict[str, Any]: ...


def authorize_through_pgbouncer(
    runner: Measures, direct: Server, ceiling: Load, authorize: Load, reps: int, run_dir: Path
) -> dict[str, Any]:
    with running_pgbouncer(database_url(direct.kind, direct.scale)) as url:
        port = harness.free_port(direct.port + 20)
        env = {"DATABASE_URL": url, "DATABASE_PGBOUNCER": "true"}
        log_path = run_dir / "logs" / f"server-{direct.kind}-pgbouncer.log"
        server = Server(direct.kind, direct.scale, port, direct.workers, log_path, extra_env=env)
        log(f"{direct.kind}: authorize through {version()} on port {port}")
        server.start()
        try:
            ceilings = [runner.measure(server, ceiling)]
            runs = []
            for _ in range(reps):
                runs.append(runner.measure(server, authorize))
                ceilings.append(runner.measure(server, ceiling))
        finally:
            server.stop()
    ratios = [
        run["rps"] / ((before["rps"] + after["rps"]) / 2)
        for run, before, after in zip(runs, ceilings, ceilings[1:], strict=False)
    ]
    return {
        "pgbouncer": version(),
        "runs": runs,
        "ceiling": ceilings,
        "ratios": [round(r, 4) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 4),
        "rps_median": statistics.median(run["rps"] for run in runs),
        "p99_ms_median": statistics.median(run["latency_ms"]["p99"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def target_rows(res: dict[str, Any]) -> list[tuple[str, str, Any, str, bool | None]]:
    """(key, title, measured, target, pass) rows for the report: reported, errors must be 0."""
    through = res.get("authorize_pgbouncer")
    if through is None:
        return []
    direct = res["authorize"]["ratio_median"]
    return [
        ("authorize_pgbouncer_ratio", f"POST /v1/authorize via {through['pgbouncer']} rps / ceiling rps",
         through["ratio_median"], "(reported)", None),
        ("authorize_pgbouncer_vs_direct", "authorize ratio via PgBouncer / ratio direct (same run)",
         round(through["ratio_median"] / direct, 3) if direct else None, "(reported)", None),
        ("authorize_pgbouncer_errors", "POST /v1/authorize via PgBouncer errors", through["errors"], "0",
         through["errors"] == 0),
    ]  # fmt: skip
