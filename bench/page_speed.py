"""Where people wait (issue 15, items 2 and 3): list, history, group page, one card add and
authorize, each as a ratio to the ceiling (`GET /healthz` of the same server) measured around it.

    python -m bench.page_speed --db sqlite --scale 0.05 --reps 3 [--before DIR]

With `--before DIR` (a checkout of another commit, e.g. `git archive main | tar -x -C DIR`) a second
server runs that code on the same database (or on `--before-database-url`, a copy migrated down to
that commit's revision, when the schemas differ) and both are measured in turn, each repetition
alternating which goes first: an A/B in one run. Per server and repetition the sequence is
ceiling, list, ceiling, history, ceiling, page, ceiling, card add, ceiling, authorize, ceiling; each
ratio is the load's rps over the mean of the two ceilings around it; the verdict is the median
over the repetitions. The databases are the harness's (`python -m bench.datagen SCALE pg sqlite`);
the cards the adds create are removed at the start and the end (UID prefix BENCHW).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness, workload
from bench.common import BENCH_WRITE_UID_PREFIX, RESULTS_DIR, ROOT, VENV_BIN, database_url, log, read_meta
from bench.harness import Load, Server

SIZED = ("list", "history", "page")
TARGETS = {"list": 0.15, "history": 0.25, "page": 0.25, "card_add": 0.15, "authorize": None}
SQLITE_AUTHORIZE_TARGET = 0.50


@dataclass
class CodeServer(Server):
    """`ugs serve` of the code in `code_dir` (this checkout when it is ROOT)."""

    code_dir: Path = ROOT

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(self.kind, self.scale),
            "PYTHONPATH": str(self.code_dir),
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [str(VENV_BIN / "python"), "-m", "app.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", "1"]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command,
                cwd=self.code_dir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                if harness.request("127.0.0.1", self.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server on port {self.port} not ready; see {self.log_path}")


def loads(kind: str, scale: float, inputs: Path, seed: int, connections: int, tag: str) -> dict[str, Load]:
    meta = read_meta(kind, scale)
    assert meta is not None, f"no bench database {kind} {scale}: python -m bench.datagen {scale} {kind}"
    admin, integration = meta["keys"]["admin"]["key"], meta["keys"]["integration"]["key"]
    reader = workload.Reader(kind, scale)
    try:
        workload.remove_bench_writes(reader)
        every = workload.group_ids(reader, active_only=False)
        active = workload.group_ids(reader, active_only=True)
        bodies = workload.build_authorize_bodies(reader, 20_000, seed)
    finally:
        reader.close()
    history = workload.write_lines(
        inputs / "history.txt", [f"/v1/user-groups/{g}/history?limit=50" for g in every]
    )
    pages = workload.write_lines(inputs / "pages.txt", [f"/v1/user-groups/{g}" for g in every])
    groups = workload.write_lines(inputs / "active.txt", active)
    authorize = workload.write_lines(inputs / "authorize.txt", [b.body for b in bodies])
    c, s = connections, str(seed)
    return {
        "ceiling": Load("ceiling /healthz", "static.lua", ["-"], "/healthz", c),
        "list": Load("list", "static.lua", [admin], "/v1/user-groups?limit=50", c),
        "history": Load("history", "paths.lua", [str(history), admin, s], "/", c),
        "page": Load("page", "paths.lua", [str(pages), admin, s], "/", c),
        # One connection, as bench/run.py's single adds: concurrent adds queue on the group's and
        # the local lists' row locks, which measures contention rather than the cost of an add.
        "card_add": Load(
            "card add", "add_card.lua", [str(groups), admin, s, f"{BENCH_WRITE_UID_PREFIX}{tag}"], "/", 1
        ),
        "authorize": Load("authorize", "authorize.lua", [str(authorize), integration, s], "/", c),
    }


def with_prefix(load: Load, prefix: str) -> Load:
    return Load(**{**load.__dict__, "args": [*load.args[:3], prefix]})


def measure_server(
    server: Server, all_loads: dict[str, Load], rep: int, args: argparse.Namespace
) -> dict[str, Any]:
    ceilings = [harness.measure(server, all_loads["ceiling"], args.warmup, args.duration)]
    out: dict[str, Any] = {}
    for name in TARGETS:
        load = all_loads[name]
        warmup = args.warmup
        if name == "card_add":  # UIDs unique per server, repetition and warm-up (409 otherwise)
            unique = f"{load.args[3]}{server.port}R{rep}"
            harness.run_wrk(server.port, with_prefix(load, unique + "W"), warmup)
            load, warmup = with_prefix(load, unique), 0.0
        run = harness.measure(server, load, warmup, args.duration)
        ceilings.append(harness.measure(server, all_loads["ceiling"], args.warmup, args.duration))
        around = (ceilings[-2]["rps"] + ceilings[-1]["rps"]) / 2
        out[name] = {
            "ratio": round(run["rps"] / around, 4) if around else 0.0,
            "rps": run["rps"],
            "errors": run["errors"],
            "server_us_per_req": run["cpu"]["server_us_per_req"],
            "mean_ms": run["latency_ms"]["mean"],
        }
    out["ceiling_us_per_req"] = statistics.median(c["cpu"]["server_us_per_req"] or 0 for c in ceilings)
    out["ceiling_rps"] = [c["rps"] for c in ceilings]
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        name: {
            "ratio_median": round(statistics.median(r[name]["ratio"] for r in runs), 4),
            "ratios": [r[name]["ratio"] for r in runs],
            "server_us_per_req_median": statistics.median(r[name]["server_us_per_req"] or 0 for r in runs),
            "errors": sum(r[name]["errors"] for r in runs),
        }
        for name in TARGETS
    } | {"ceiling_us_per_req_median": statistics.median(r["ceiling_us_per_req"] for r in runs)}


def size_comparison(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    """List, history and page latency on two sizes (`--sizes LARGE SMALL`), this checkout's code:
    adjacent pairs of loads, the order alternating; factor = median over pairs of large / small."""
    large, small = args.sizes
    tag = time.strftime("%H%M%S")
    sized = {
        scale: loads(args.db, scale, run_dir / f"inputs-{scale:g}", args.seed, args.connections, tag)
        for scale in (large, small)
    }
    servers = {
        scale: CodeServer(
            args.db, scale, harness.free_port(18400 + 20 * i), 1, run_dir / f"size-{scale:g}.log"
        )
        for i, scale in enumerate((large, small))
    }
    factors: dict[str, dict[str, list[float]]] = {name: {"mean": [], "p50": [], "p99": []} for name in SIZED}
    try:
        for server in servers.values():
            server.start()
        for pair in range(args.reps * 2):
            for name in SIZED:
                runs = {}
                for scale in (large, small) if pair % 2 == 0 else (small, large):
                    runs[scale] = harness.measure(
                        servers[scale], sized[scale][name], args.warmup, args.duration
                    )
                if not all(run["requests"] for run in runs.values()):
                    log(f"{name}: a load completed no request (a starved machine); pair skipped")
                    continue
                for metric, values in factors[name].items():
                    values.append(
                        round(runs[large]["latency_ms"][metric] / runs[small]["latency_ms"][metric], 3)
                    )
    finally:
        for server in servers.values():
            server.stop()
    return {
        name: {metric: {"median": statistics.median(v), "pairs": v} for metric, v in metrics.items()}
        for name, metrics in factors.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("pg", "sqlite"), required=True)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with (A/B)")
    parser.add_argument(
        "--before-database-url",
        help="the database the --before code reads, when the two commits' schemas differ: a copy of "
        "the bench database migrated down to that commit's head (readiness refuses another revision)",
    )
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "page_speed")
    parser.add_argument(
        "--sizes", type=float, nargs=2, metavar=("LARGE", "SMALL"), help="size comparison only"
    )
    args = parser.parse_args(argv)
    tag = time.strftime("%H%M%S")
    run_dir = args.out / f"{args.db}-{tag}"
    if args.sizes:
        factors = size_comparison(args, run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "sizes.json").write_text(
            json.dumps({"sizes": args.sizes, "factors": factors}, indent=2) + "\n"
        )
        for name, metrics in factors.items():
            medians = {metric: values["median"] for metric, values in metrics.items()}
            log(f"{args.db} {name:<8} large/small latency {medians} (target <= 1.3); load {os.getloadavg()}")
        return 0
    all_loads = loads(args.db, args.scale, run_dir / "inputs", args.seed, args.connections, tag)
    codes = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    before_env = {"DATABASE_URL": args.before_database_url} if args.before_database_url else {}
    servers = {
        label: CodeServer(
            args.db,
            args.scale,
            harness.free_port(18300 + 20 * i),
            1,
            run_dir / f"{label}.log",
            extra_env=before_env if label == "before" else {},
            code_dir=path,
        )
        for i, (label, path) in enumerate(codes.items())
    }
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in servers}
    load_avg = [os.getloadavg()]
    try:
        for server in servers.values():
            server.start()
        for rep in range(args.reps):
            order = list(servers) if rep % 2 == 0 else list(reversed(servers))
            for label in order:
                log(f"{args.db} rep {rep + 1}/{args.reps}: {label}")
                runs[label].append(measure_server(servers[label], all_loads, rep, args))
            load_avg.append(os.getloadavg())
    finally:
        for server in servers.values():
            server.stop()
    result = {
        "db": args.db,
        "scale": args.scale,
        "load_average": load_avg,
        "summary": {label: summarize(label_runs) for label, label_runs in runs.items()},
        "runs": runs,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    workload.with_reader(args.db, args.scale, workload.remove_bench_writes)
    for label, summary in result["summary"].items():
        for name, target in TARGETS.items():
            goal = SQLITE_AUTHORIZE_TARGET if name == "authorize" and args.db == "sqlite" else target
            s = summary[name]
            verdict = (
                "" if goal is None else ("pass" if s["ratio_median"] >= goal else "MISS") + f" (>= {goal})"
            )
            log(
                f"{args.db} {label:<6} {name:<9} {s['ratio_median']:.3f} {s['ratios']} "
                f"(ceiling {summary['ceiling_us_per_req_median']:.0f} us/req) "
                f"{s['server_us_per_req_median']:.0f} us/req, errors {s['errors']} {verdict}"
            )
    log(f"results in {run_dir}; load average {load_avg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
