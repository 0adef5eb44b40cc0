"""The benchmark: build (or reuse) the databases, run the real server under wrk, write the report.

Run it through bench/run.sh (see bench/README.md); `python -m bench.run --help` lists the options.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import export_speed, harness, operator_tools, pgbouncer, report, workload
from bench.common import (
    BENCH_WRITE_UID_PREFIX,
    GENERATOR_VERSION,
    PG_ADMIN_URL,
    RESULTS_DIR,
    ROOT,
    Sizes,
    code_fingerprint,
    db_name,
    log,
    read_meta,
    scale_label,
    schema_fingerprint,
)
from bench.harness import Load, Server

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "scale": 1.0,
        "small_scale": None,  # scale / 100
        "warmup": 3.0,
        "duration": 10.0,
        "reps": 3,
        "scaling_pairs": 6,
        "scaling_seconds": 5.0,
        "single_seconds": 10.0,
        "bulk_requests": 3,
        "authorize_bodies": 20_000,
    },
    "quick": {
        "scale": 0.05,
        "small_scale": 0.006,  # 60 user groups: more than one page of 50, like the full comparison
        "warmup": 1.0,
        "duration": 3.0,
        "reps": 1,
        "scaling_pairs": 2,
        "scaling_seconds": 2.0,
        "single_seconds": 3.0,
        "bulk_requests": 2,
        "authorize_bodies": 5_000,
    },
}

SCALING_TIMEOUT_S = 60.0
SCALING_WARMUP_S = 1.0

TARGETS: dict[str, Any] = {
    "authorize_ratio": {"pg": 0.30, "sqlite": 0.45},
    "scaling_factor": 1.3,
    "bulk_cost_ratio": 0.10,
    "export_rss_growth_mb": 50.0,
    "rss_after_authorize_mb": 200.0,
}


@dataclass
class Config:
    kinds: list[str]
    scale: float
    small_scale: float
    workers: int
    connections: int
    threads: int
    warmup: float
    duration: float
    reps: int
    scaling_pairs: int
    scaling_seconds: float
    single_seconds: float
    bulk_requests: int
    bulk_size: int
    authorize_bodies: int
    reuse: bool
    generate_only: bool
    skip_export: bool
    operator_tools_only: bool
    skip_reports: bool
    db_timeout: float | None
    skip_pgbouncer: bool
    port: int
    quiet_wait: float
    seed: int
    quick: bool
    out: Path | None


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Benchmark the service on PostgreSQL and SQLite against its own /healthz ceiling.",
    )
    parser.add_argument("--db", default="pg,sqlite", help="comma-separated: pg, sqlite (default both)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small organization, short loads")
    parser.add_argument("--scale", type=float, help="organization size (1.0 = 1M cards; quick: 0.05)")
    parser.add_argument("--small-scale", type=float, help="the comparison size (default scale/100)")
    parser.add_argument("--reuse", action="store_true", help="reuse cached databases when they match")
    parser.add_argument("--generate-only", action="store_true", help="build the databases, run nothing")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each load (3)")
    parser.add_argument("--duration", type=float, help="measured seconds per load (10)")
    parser.add_argument("--reps", type=int, help="authorize repetitions, each between two ceilings (3)")
    parser.add_argument(
        "--scaling-pairs",
        type=int,
        help="adjacent full/small load pairs per endpoint for the size comparison (6)",
    )
    parser.add_argument("--scaling-seconds", type=float, help="measured seconds of each load of a pair (5)")
    parser.add_argument("--single-seconds", type=float, help="seconds of one-card-per-request adds (10)")
    parser.add_argument("--bulk-requests", type=int, help="bulk requests of --bulk-size new cards (3)")
    parser.add_argument("--bulk-size", type=int, default=10_000, help="cards per bulk request (10000)")
    parser.add_argument("--authorize-bodies", type=int, help="distinct authorize bodies sampled (20000)")
    parser.add_argument("--skip-export", action="store_true", help="skip the CSV export measurement")
    parser.add_argument(
        "--operator-tools-only",
        action="store_true",
        help="only the bulk add, the bulk card actions and the session reports on the full-size database "
        "(no authorize, size comparison, single adds or export; the 1/100 database is not built)",
    )
    parser.add_argument(
        "--skip-reports", action="store_true", help="with --operator-tools-only: no session reports"
    )
    parser.add_argument(
        "--db-timeout",
        type=float,
        help="raise the server's database timeouts (DB_REQUEST_TIMEOUT_SECONDS, DB_STATEMENT_TIMEOUT_MS) to "
        "this many seconds, so that a machine too loaded for the defaults (5 s, 10 s) measures a slow "
        "answer instead of a 503 (default: the service's own)",
    )
    parser.add_argument("--skip-pgbouncer", action="store_true", help="skip authorize through PgBouncer")
    parser.add_argument("--port", type=int, default=18080, help="first port tried on 127.0.0.1")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each load, wait up to this many seconds for other processes to leave the CPUs (30)",
    )
    parser.add_argument("--seed", type=int, default=20261125, help="data generator seed")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results/<timestamp>)")
    args = parser.parse_args(argv)
    profile = PROFILES["quick" if args.quick else "full"]

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return profile[name] if value is None else value

    scale = pick("scale")
    small_scale = pick("small_scale") or scale / 100
    if Sizes.for_scale(small_scale).user_groups <= 50:
        log(
            f"warning: scale {small_scale:g} has {Sizes.for_scale(small_scale).user_groups} user groups, "
            "not more than one page of 50: the list comparison is not like for like"
        )
    kinds = [kind.strip() for kind in args.db.split(",") if kind.strip()]
    for kind in kinds:
        if kind not in ("pg", "sqlite"):
            parser.error(f"unknown database {kind!r}; use pg and/or sqlite")
    return Config(
        kinds=kinds,
        scale=scale,
        small_scale=small_scale,
        workers=args.workers,
        connections=args.connections,
        threads=args.threads,
        warmup=pick("warmup"),
        duration=pick("duration"),
        reps=pick("reps"),
        scaling_pairs=pick("scaling_pairs"),
        scaling_seconds=pick("scaling_seconds"),
        single_seconds=pick("single_seconds"),
        bulk_requests=pick("bulk_requests"),
        bulk_size=args.bulk_size,
        authorize_bodies=pick("authorize_bodies"),
        reuse=args.reuse,
        generate_only=args.generate_only,
        skip_export=args.skip_export,
        operator_tools_only=args.operator_tools_only,
        skip_reports=args.skip_reports,
        db_timeout=args.db_timeout,
        skip_pgbouncer=args.skip_pgbouncer,
        port=args.port,
        quiet_wait=args.quiet_wait,
        seed=args.seed,
        quick=args.quick,
        out=args.out,
    )


# Databases ------------------------------------------------------------------------------------------


def alembic_head() -> str:
    from alembic.script import ScriptDirectory
    from app.cli import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(head)


def cache_ok(kind: str, scale: float, sizes: Sizes, seed: int) -> tuple[bool, str]:
    meta = read_meta(kind, scale)
    if meta is None:
        return False, "no cached database"
    if meta.get("generator_version") != GENERATOR_VERSION or meta.get("seed") != seed:
        return False, "generated by another generator version or seed"
    if meta.get("sizes") != sizes.as_dict():
        return False, "other sizes"
    if meta.get("schema_fingerprint") != schema_fingerprint():
        return False, "the migrations changed since it was built"
    try:
        reader = workload.Reader(kind, scale)
    except Exception as error:  # the database is gone
        return False, f"cannot open: {error}"
    try:
        version = reader.fetch("SELECT version_num FROM alembic_version")[0][0]
        if version != alembic_head():
            return False, f"schema {version} is not the migrations head {alembic_head()}"
        cards = reader.fetch(f"SELECT count(*) FROM cards WHERE uid NOT LIKE '{BENCH_WRITE_UID_PREFIX}%'")[0][
            0
        ]
        if cards != meta["rows"]["cards"]:
            return False, f"{cards} cards instead of {meta['rows']['cards']}"
    except Exception as error:
        return False, f"unreadable: {error}"
    finally:
        reader.close()
    return True, "cached"


def scales_of(cfg: Config) -> tuple[float, ...]:
    return (cfg.scale,) if cfg.operator_tools_only else (cfg.scale, cfg.small_scale)


def prepare_databases(cfg: Config) -> dict[str, Any]:
    from bench.datagen import generate

    timings: dict[str, Any] = {}
    for scale in scales_of(cfg):
        sizes = Sizes.for_scale(scale)
        todo = []
        for kind in cfg.kinds:
            ok, why = cache_ok(kind, scale, sizes, cfg.seed) if cfg.reuse else (False, "no --reuse")
            if ok:
                log(f"{kind} {db_name(scale)}: reusing the cached database")
            else:
                log(f"{kind} {db_name(scale)}: generating ({why})")
                todo.append(kind)
        if todo:
            started = time.perf_counter()
            generate(scale, todo, sizes, cfg.seed)
            timings[scale_label(scale)] = {"kinds": todo, "seconds": round(time.perf_counter() - started, 1)}
    return timings


# Measurements ---------------------------------------------------------------------------------------


def wait_for_quiet(max_wait: float, threshold_cores: float = 0.3) -> dict[str, float]:
    """Other processes (test suites, builds) on the same 2 vCPUs distort every figure: wait for them."""
    cores = os.cpu_count() or 1
    started = time.monotonic()
    while True:
        busy0, total0 = harness.system_cpu()
        time.sleep(1.0)
        busy1, total1 = harness.system_cpu()
        busy_cores = cores * (busy1 - busy0) / max(total1 - total0, 1e-9)
        waited = time.monotonic() - started
        if busy_cores <= threshold_cores or waited >= max_wait:
            return {"waited_s": round(waited, 1), "idle_busy_cores": round(busy_cores, 2)}


def calibrate() -> float:
    """BASELINES.md's CPU-speed probe: 300k pure-Python iterations, in ms (this VM is bimodal)."""
    started = time.perf_counter()
    total = 0
    for i in range(300_000):
        total += i
    return round((time.perf_counter() - started) * 1000, 1)


class Runner:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def measure(self, server: Server, load: Load) -> dict[str, Any]:
        quiet = wait_for_quiet(self.cfg.quiet_wait)
        calib = calibrate()
        result = harness.measure(server, load, self.cfg.warmup, self.cfg.duration)
        result["quiet"] = quiet
        result["calib_ms"] = calib
        return result


def check_mix(port: int, key: str, bodies: list[workload.AuthorizeBody], n: int = 300) -> dict[str, Any]:
    """Sends the first `n` bodies one by one and compares each status with the one expected; also
    times them (one connection, no concurrency) by how the connector is named."""
    observed: dict[str, int] = {}
    mismatches = []
    timings: dict[str, list[float]] = {}
    connection = harness.http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = harness.auth(key, True)
    for body in bodies[:n]:
        started = time.perf_counter()
        connection.request("POST", "/v1/authorize", body.body.encode(), headers)
        response = connection.getresponse()
        raw = response.read()
        form = "evse_id" if '"evse_id"' in body.body else "connector_id"
        timings.setdefault(form, []).append((time.perf_counter() - started) * 1000)
        got = json.loads(raw).get("status") if response.status == 200 else f"HTTP {response.status}"
        observed[str(got)] = observed.get(str(got), 0) + 1
        if got != body.expected:
            mismatches.append({"body": body.body, "expected": body.expected, "got": got})
    connection.close()
    planned: dict[str, int] = {}
    for body in bodies:
        planned[body.expected] = planned.get(body.expected, 0) + 1
    return {
        "checked": min(n, len(bodies)),
        "observed": observed,
        "planned_share": {k: round(v / len(bodies), 3) for k, v in sorted(planned.items())},
        "mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "sequential_ms": {
            form: {
                "n": len(values),
                "p50": round(statistics.median(values), 2),
                "max": round(max(values), 2),
            }
            for form, values in sorted(timings.items())
        },
    }


def must_succeed(port: int, method: str, path: str, key: str, body: bytes | None = None) -> None:
    status, _, raw = harness.request(
        "127.0.0.1", port, method, path, body, harness.auth(key, body is not None)
    )
    if not 200 <= status < 300:
        raise RuntimeError(f"{method} {path} answered {status}: {raw[:500]!r}")


def bulk_adds(server: Server, key: str, groups: list[str], cfg: Config, run_tag: str) -> dict[str, Any]:
    requests = []
    for i in range(cfg.bulk_requests):
        wait_for_quiet(cfg.quiet_wait)
        group = groups[(i * 7919) % len(groups)]
        cards = [{"uid": f"{BENCH_WRITE_UID_PREFIX}{run_tag}B{i:02d}{n:06d}"} for n in range(cfg.bulk_size)]
        body = json.dumps({"cards": cards}, separators=(",", ":")).encode()
        before = harness.snapshot(server)
        started = time.perf_counter()
        status, _, raw = harness.request(
            "127.0.0.1",
            server.port,
            "POST",
            f"/v1/user-groups/{group}/cards/bulk",
            body,
            harness.auth(key, True),
            timeout=900,
        )
        seconds = time.perf_counter() - started
        after = harness.snapshot(server)
        if status != 201:
            raise RuntimeError(f"bulk add answered {status}: {raw[:500]!r}")
        requests.append(
            {
                "cards": cfg.bulk_size,
                "seconds": round(seconds, 3),
                "ms_per_card": round(seconds * 1000 / cfg.bulk_size, 4),
                "server_cpu_us_per_card": round((after.server - before.server) * 1e6 / cfg.bulk_size, 1),
                "other_cores": after.other_cores_since(before),
                "postgres_cpu_us_per_card": round(after.postgres_since(before) * 1e6 / cfg.bulk_size, 1)
                if server.kind == "pg"
                else None,
                "body_bytes": len(body),
            }
        )
        log(f"bulk add of {cfg.bulk_size} cards: {seconds:.2f} s ({requests[-1]['ms_per_card']} ms per card)")
    per_card = statistics.median(float(r["ms_per_card"] or 0) for r in requests)
    return {"requests": requests, "ms_per_card_median": per_card}


def export_csv(server: Server, key: str, expected_rows: int) -> dict[str, Any]:
    import http.client

    pids = server.worker_pids()
    baseline = max(v for v in (harness.rss_mb(pid) for pid in pids) if v is not None)
    before = harness.snapshot(server)
    with harness.RssSampler(pids, 0.1) as sampler:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        connection.request("GET", "/v1/sessions/export.csv", headers=harness.auth(key))
        response = connection.getresponse()
        first_byte = time.perf_counter() - started
        total = lines = 0
        while True:
            chunk = response.read(256 * 1024)
            if not chunk:
                break
            total += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        connection.close()
        time.sleep(0.5)
    after = harness.snapshot(server)
    if response.status != 200:
        raise RuntimeError(f"export answered {response.status}")
    peak = max(value for _, value in sampler.samples)
    result = {
        "status": response.status,
        "rows": lines - 1,
        "rows_expected": expected_rows,
        "bytes": total,
        "seconds": round(seconds, 2),
        "first_byte_s": round(first_byte, 3),
        "rows_per_s": round((lines - 1) / seconds, 1) if seconds else None,
        "mb_per_s": round(total / 1e6 / seconds, 2) if seconds else None,
        "rss_before_mb": round(baseline, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(peak - baseline, 1),
        "rss_samples": len(sampler.samples),
        "rss_series": [
            (round(t, 2), round(v, 1)) for t, v in sampler.samples[:: max(1, len(sampler.samples) // 400)]
        ],
        "server_cpu_s": round(after.server - before.server, 2),
        # Includes this process reading the response (a fraction of a core).
        "other_cores": after.other_cores_since(before),
        "postgres_cpu_s": round(after.postgres_since(before), 2) if server.kind == "pg" else None,
    }
    log(
        f"export: {result['rows']} rows, {total / 1e6:.1f} MB in {seconds:.1f} s, "
        f"RSS {baseline:.0f} -> peak {peak:.0f} MB"
    )
    return result


def median_of(runs: list[dict[str, Any]], path: tuple[str, ...]) -> float:
    values = []
    for run in runs:
        value: Any = run
        for part in path:
            value = value[part]
        values.append(value)
    return float(statistics.median(values))


def suite(cfg: Config, kind: str, run_dir: Path) -> dict[str, Any]:
    runner = Runner(cfg)
    full, small = cfg.scale, cfg.small_scale
    meta_full, meta_small = read_meta(kind, full), read_meta(kind, small)
    assert meta_full is not None and meta_small is not None
    admin = meta_full["keys"]["admin"]["key"]
    integration = meta_full["keys"]["integration"]["key"]
    admin_small = meta_small["keys"]["admin"]["key"]
    inputs = run_dir / "inputs" / kind

    def material(reader: workload.Reader, size: str) -> dict[str, Any]:
        removed = workload.remove_bench_writes(reader)
        if removed:
            log(f"{kind} {size}: removed {removed} cards left by an earlier run")
        every = workload.group_ids(reader, active_only=False)
        return {"all": every, "active": workload.group_ids(reader, active_only=True)}

    log(f"{kind}: sampling request material")
    reader = workload.Reader(kind, full)
    try:
        groups_full = material(reader, "full")
        bodies = workload.build_authorize_bodies(reader, cfg.authorize_bodies, cfg.seed)
    finally:
        reader.close()
    groups_small = workload.with_reader(kind, small, lambda r: material(r, "small"))
    bodies_file = workload.write_lines(inputs / "authorize_bodies.txt", [b.body for b in bodies])
    history_full = workload.write_lines(
        inputs / "history_full.txt", [f"/v1/user-groups/{g}/history?limit=50" for g in groups_full["all"]]
    )
    history_small = workload.write_lines(
        inputs / "history_small.txt", [f"/v1/user-groups/{g}/history?limit=50" for g in groups_small["all"]]
    )
    active_file = workload.write_lines(inputs / "active_groups_full.txt", groups_full["active"])

    port_full = harness.free_port(cfg.port)
    port_small = harness.free_port(port_full + 1)
    server = Server(kind, full, port_full, cfg.workers, run_dir / "logs" / f"server-{kind}-full.log")
    server_small = Server(kind, small, port_small, cfg.workers, run_dir / "logs" / f"server-{kind}-small.log")
    server.extra_env.update(timeouts(cfg))
    server_small.extra_env.update(timeouts(cfg))
    seed = str(cfg.seed)
    c, t = cfg.connections, cfg.threads
    ceiling = Load("ceiling /healthz", "static.lua", ["-"], "/healthz", c, t)
    authorize = Load("POST /v1/authorize", "authorize.lua", [str(bodies_file), integration, seed], "/", c, t)
    # The size comparison measures latency, so slow answers are waited for rather than cut at 5 s.
    slow = SCALING_TIMEOUT_S
    lists = {
        "full": Load("list full", "static.lua", [admin], "/v1/user-groups?limit=50", c, t, slow),
        "small": Load("list small", "static.lua", [admin_small], "/v1/user-groups?limit=50", c, t, slow),
    }
    history = {
        "full": Load("history full", "paths.lua", [str(history_full), admin, seed], "/", c, t, slow),
        "small": Load("history small", "paths.lua", [str(history_small), admin_small, seed], "/", c, t, slow),
    }
    ports = {"full": port_full, "small": port_small}
    servers = {"full": server, "small": server_small}
    result: dict[str, Any] = {"ports": ports}
    started = time.perf_counter()
    try:
        log(
            f"{kind}: starting servers on ports {port_full} (scale {full:g}) "
            f"and {port_small} (scale {small:g})"
        )
        result["code"] = code_version()
        server.start()
        server_small.start()
        result["rss_idle_mb"] = server.rss()
        for size, key, groups in (("full", admin, groups_full), ("small", admin_small, groups_small)):
            must_succeed(ports[size], "GET", "/v1/user-groups?limit=50", key)
            must_succeed(ports[size], "GET", f"/v1/user-groups/{groups['all'][0]}/history?limit=50", key)
        result["authorize_mix"] = check_mix(port_full, integration, bodies)
        log(f"{kind}: authorize mix check {result['authorize_mix']['observed']}")

        ceilings = [runner.measure(server, ceiling)]
        authorize_runs = []
        for _ in range(cfg.reps):
            authorize_runs.append(runner.measure(server, authorize))
            ceilings.append(runner.measure(server, ceiling))
        result["rss_after_authorize_mb"] = server.rss()
        if kind == "pg" and not cfg.skip_pgbouncer:
            result["authorize_pgbouncer"] = pgbouncer.authorize_through_pgbouncer(
                runner, server, ceiling, authorize, cfg.reps, run_dir
            )

        # The size comparison: adjacent pairs of short loads (full, small), the order alternating, so
        # both sides of a pair see the same CPU speed (this VM switches speed within seconds).
        scaling: dict[str, list[dict[str, dict[str, Any]]]] = {"list": [], "history": []}
        for i in range(cfg.scaling_pairs):
            order = ["full", "small"] if i % 2 == 0 else ["small", "full"]
            for endpoint, loads in (("list", lists), ("history", history)):
                quiet = wait_for_quiet(cfg.quiet_wait)
                pair: dict[str, dict[str, Any]] = {}
                for size in order:
                    calib = calibrate()
                    run = harness.measure(servers[size], loads[size], SCALING_WARMUP_S, cfg.scaling_seconds)
                    pair[size] = {**run, "quiet": quiet, "calib_ms": calib}
                scaling[endpoint].append(pair)
        ceilings.append(runner.measure(server, ceiling))

        run_tag = datetime.now(UTC).strftime("%H%M%S")
        prefix = f"{BENCH_WRITE_UID_PREFIX}{run_tag}"
        single_load = Load(
            "POST cards (one each)", "add_card.lua", [str(active_file), admin, seed, f"{prefix}S"], "/", 1, 1
        )
        quiet = wait_for_quiet(cfg.quiet_wait)
        if cfg.warmup > 0:
            warm_args = [str(active_file), admin, seed, f"{prefix}W"]
            harness.run_wrk(server.port, dataclasses.replace(single_load, args=warm_args), cfg.warmup)
        single = harness.measure(server, single_load, 0.0, cfg.single_seconds)
        single["quiet"] = quiet
        bulk = bulk_adds(server, admin, groups_full["active"], cfg, run_tag)
        single_ms = 1000 / single["rps"] if single["rps"] else None
        result["cards"] = {
            "single": single,
            "single_ms_per_card": round(single_ms, 3) if single_ms else None,
            "single_cpu_us_per_card": (single["cpu"]["server_us_per_req"] or 0)
            + (single["cpu"]["postgres_us_per_req"] or 0),
            "bulk": bulk,
            "bulk_ms_per_card": bulk["ms_per_card_median"],
            "bulk_cpu_us_per_card": statistics.median(
                r["server_cpu_us_per_card"] + (r["postgres_cpu_us_per_card"] or 0) for r in bulk["requests"]
            ),
        }
        if single_ms:
            result["cards"]["cost_ratio"] = round(bulk["ms_per_card_median"] / single_ms, 4)
            result["cards"]["cpu_cost_ratio"] = round(
                result["cards"]["bulk_cpu_us_per_card"] / result["cards"]["single_cpu_us_per_card"], 4
            )

        wait_for_quiet(cfg.quiet_wait)
        result["bulk_actions"] = operator_tools.bulk_actions(
            server, admin, groups_full["active"], cfg.bulk_requests, run_tag
        )
        result["bulk_comparison"] = operator_tools.compare_bulk(
            bulk["ms_per_card_median"], result["bulk_actions"]
        )
        wait_for_quiet(cfg.quiet_wait)
        result["session_report"] = operator_tools.session_reports(server, admin)
        if not cfg.skip_export:
            wait_for_quiet(cfg.quiet_wait)
            sessions_total = meta_full["rows"]["charging_sessions"]
            result["export_speed"] = export_speed.measure(server, admin, sessions_total)
            result["export"] = result["export_speed"]["runs"][-1]["export"]
        result["rss_end_mb"] = server.rss()
    finally:
        server.stop()
        server_small.stop()
        reader = workload.Reader(kind, full)
        try:
            result["removed_bench_cards"] = workload.remove_bench_writes(reader)
        finally:
            reader.close()
    result["seconds"] = round(time.perf_counter() - started, 1)

    ratios = []
    for i, run in enumerate(authorize_runs):
        mean_ceiling = (ceilings[i]["rps"] + ceilings[i + 1]["rps"]) / 2
        ratios.append(run["rps"] / mean_ceiling if mean_ceiling else 0.0)
    tail_ceiling = (ceilings[-2]["rps"] + ceilings[-1]["rps"]) / 2
    result["ceiling"] = ceilings
    result["ceiling_rps_mean"] = round(statistics.mean(c["rps"] for c in ceilings), 1)
    result["ceiling_p99_ms_median"] = median_of(ceilings, ("latency_ms", "p99"))
    result["authorize"] = {
        "runs": authorize_runs,
        "ratios": [round(r, 4) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 4),
        "rps_median": median_of(authorize_runs, ("rps",)),
        "p50_ms_median": median_of(authorize_runs, ("latency_ms", "p50")),
        "p99_ms_median": median_of(authorize_runs, ("latency_ms", "p99")),
        "errors": sum(run["errors"] for run in authorize_runs),
        "server_cpu_us_per_req": median_of(authorize_runs, ("cpu", "server_us_per_req")),
    }
    result["scaling"] = {}
    for endpoint, pairs in scaling.items():
        summary: dict[str, Any] = {
            "runs": {size: [pair[size] for pair in pairs] for size in ("full", "small")}
        }
        for size, runs in summary["runs"].items():
            summary[size] = {
                "rps": median_of(runs, ("rps",)),
                "ratio_to_ceiling": round(median_of(runs, ("rps",)) / tail_ceiling, 4),
                "mean_ms": median_of(runs, ("latency_ms", "mean")),
                "p50_ms": median_of(runs, ("latency_ms", "p50")),
                "p99_ms": median_of(runs, ("latency_ms", "p99")),
                "errors": sum(run["errors"] for run in runs),
                "server_cpu_us_per_req": median_of(runs, ("cpu", "server_us_per_req")),
            }
        summary["pair_factors"] = {
            metric: [
                round(pair["full"]["latency_ms"][metric] / pair["small"]["latency_ms"][metric], 3)
                for pair in pairs
            ]
            for metric in ("mean", "p50", "p99")
        }
        # The verdict: the median over pairs of (full / small), each pair measured back to back.
        summary["factor"] = {
            metric: round(statistics.median(values), 3) for metric, values in summary["pair_factors"].items()
        }
        result["scaling"][endpoint] = summary
    return result


def timeouts(cfg: Config) -> dict[str, str]:
    if cfg.db_timeout is None:
        return {}
    return {
        "DB_REQUEST_TIMEOUT_SECONDS": f"{cfg.db_timeout:g}",
        "DB_STATEMENT_TIMEOUT_MS": str(int(cfg.db_timeout * 1000)),
    }


def operator_suite(cfg: Config, kind: str, run_dir: Path) -> dict[str, Any]:
    """--operator-tools-only: on the full-size database, the session reports, then the bulk adds and
    the bulk card actions on the cards they wrote (the per-card costs compared in this one run)."""
    meta = read_meta(kind, cfg.scale)
    assert meta is not None
    admin = meta["keys"]["admin"]["key"]

    def active_groups(reader: workload.Reader) -> list[str]:
        workload.remove_bench_writes(reader)
        return workload.group_ids(reader, active_only=True)

    groups = workload.with_reader(kind, cfg.scale, active_groups)
    port = harness.free_port(cfg.port)
    server = Server(kind, cfg.scale, port, cfg.workers, run_dir / "logs" / f"server-{kind}-full.log")
    server.extra_env.update(timeouts(cfg))
    result: dict[str, Any] = {"ports": {"full": port}, "server_env": server.extra_env}
    started = time.perf_counter()
    try:
        result["code"] = code_version()
        server.start()
        result["rss_idle_mb"] = server.rss()
        if not cfg.skip_reports:
            wait_for_quiet(cfg.quiet_wait)
            result["session_report"] = operator_tools.session_reports(server, admin)
        run_tag = datetime.now(UTC).strftime("%H%M%S")
        wait_for_quiet(cfg.quiet_wait)
        try:
            bulk = bulk_adds(server, admin, groups, cfg, run_tag)
        except (RuntimeError, TimeoutError) as error:  # a 503, or no answer within the client's bound
            result["bulk_error"] = str(error)
            log(f"{kind}: {error}")
            return result
        result["cards"] = {
            "bulk": bulk,
            "bulk_ms_per_card": bulk["ms_per_card_median"],
            "bulk_cpu_us_per_card": statistics.median(
                r["server_cpu_us_per_card"] + (r["postgres_cpu_us_per_card"] or 0) for r in bulk["requests"]
            ),
        }
        wait_for_quiet(cfg.quiet_wait)
        result["bulk_actions"] = operator_tools.bulk_actions(
            server, admin, groups, cfg.bulk_requests, run_tag
        )
        result["bulk_comparison"] = operator_tools.compare_bulk(
            bulk["ms_per_card_median"], result["bulk_actions"]
        )
        result["rss_end_mb"] = server.rss()
    finally:
        server.stop()
        result["removed_bench_cards"] = workload.with_reader(kind, cfg.scale, workload.remove_bench_writes)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


# Targets --------------------------------------------------------------------------------------------


def targets_for(kind: str, res: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(key: str, title: str, measured: Any, target: str, passed: bool | None, unit: str = "") -> None:
        rows.append(
            {
                "db": kind,
                "key": key,
                "title": title,
                "measured": measured,
                "target": target,
                "pass": passed,
                "unit": unit,
            }
        )

    if "authorize" in res:
        _load_targets(kind, res, add)
    _operator_targets(kind, res, add)
    return rows + export_speed.targets(kind, res)


def _load_targets(kind: str, res: dict[str, Any], add: Any) -> None:
    a = res["authorize"]
    goal = TARGETS["authorize_ratio"][kind]
    add(
        "authorize_ratio",
        "POST /v1/authorize rps / ceiling rps",
        a["ratio_median"],
        f">= {goal}",
        a["ratio_median"] >= goal,
    )
    add(
        "authorize_errors", "POST /v1/authorize errors (non-2xx + socket)", a["errors"], "0", a["errors"] == 0
    )
    for row in pgbouncer.target_rows(res):
        add(*row)
    add("authorize_p99", "POST /v1/authorize p99 latency", a["p99_ms_median"], "(reported)", None, "ms")
    factor = TARGETS["scaling_factor"]
    for endpoint, title in (
        ("list", "GET /v1/user-groups?limit=50"),
        ("history", "GET /v1/user-groups/{id}/history?limit=50"),
    ):
        s = res["scaling"][endpoint]
        for metric in ("mean", "p50", "p99"):
            value = s["factor"][metric]
            add(
                f"{endpoint}_{metric}_factor",
                f"{title} {metric} latency, full / (1/100 size)",
                value,
                f"<= {factor}",
                value <= factor,
            )
        errors = s["full"]["errors"] + s["small"]["errors"]
        add(f"{endpoint}_errors", f"{title} errors", errors, "0", errors == 0)
    cards = res["cards"]
    if "cost_ratio" in cards:
        ratio = cards["cost_ratio"]
        add(
            "bulk_cost_ratio",
            "bulk add cost per card / single add cost per card (wall time)",
            ratio,
            f"<= {TARGETS['bulk_cost_ratio']}",
            ratio <= TARGETS["bulk_cost_ratio"],
        )
    add(
        "single_errors",
        "single card adds errors",
        cards["single"]["errors"],
        "0",
        cards["single"]["errors"] == 0,
    )
    rss_values = [v for v in res["rss_after_authorize_mb"].values() if v is not None]
    rss = max(rss_values) if rss_values else float("nan")
    limit = TARGETS["rss_after_authorize_mb"]
    add(
        "rss_after_authorize",
        "RSS per worker after the authorize load",
        round(rss, 1),
        f"< {limit:g}",
        rss < limit,
        "MB",
    )


def _operator_targets(kind: str, res: dict[str, Any], add: Any) -> None:
    compared = res.get("bulk_comparison")
    if compared and compared["ratio"] is not None:
        add(
            "bulk_action_cost",
            f"bulk card action (block/unblock by filter) per card / bulk add per card, same run "
            f"({compared['bulk_action_ms_per_card']:g} / {compared['bulk_add_ms_per_card']:g} ms)",
            compared["ratio"],
            "<= 1",
            compared["ratio"] <= 1,
        )
    if "session_report" in res:
        slowest = res["session_report"]["max_s"]
        limit = operator_tools.REPORT_TARGET_S
        add(
            "session_report_seconds",
            "session report, one month at full size: slowest run",
            slowest,
            f"<= {limit:g}" if kind == "pg" else "(reported)",
            slowest <= limit if kind == "pg" else None,
            "s",
        )
    if "export" in res:
        e = res["export"]
        growth = e["rss_growth_mb"]
        limit = TARGETS["export_rss_growth_mb"]
        add(
            "export_rss_growth",
            "CSV export: worker RSS growth during the export",
            growth,
            f"< {limit:g}",
            growth < limit,
            "MB",
        )
        add(
            "export_rows",
            "CSV export: rows streamed",
            e["rows"],
            f"= {e['rows_expected']}",
            e["rows"] == e["rows_expected"],
        )
        add("export_seconds", "CSV export: time", e["seconds"], "(reported)", None, "s")


# Environment ----------------------------------------------------------------------------------------


def code_version() -> dict[str, Any]:
    """The code a server is about to load: others may commit while the benchmark runs."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": [
            line.strip() for line in git("status", "--porcelain", "--", "app", "migrations").splitlines()
        ],
        "fingerprint": code_fingerprint(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def environment(cfg: Config) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": harness.wrk_version(),
    }
    try:
        with open("/proc/cpuinfo") as handle:
            env["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "?"
            )
    except OSError:
        env["cpu_model"] = "?"
    packages = [
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
    ]
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    env["packages"] = versions
    git = {}
    for key, command in (
        ("commit", ["git", "rev-parse", "--short", "HEAD"]),
        ("changed_app_files", ["git", "status", "--porcelain", "--", "app", "migrations"]),
    ):
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        git[key] = out if key == "commit" else out.splitlines()
    env["git"] = git
    if "pg" in cfg.kinds:
        reader_settings = {}
        try:
            import asyncio

            import asyncpg

            async def fetch() -> dict[str, Any]:
                conn = await asyncpg.connect(PG_ADMIN_URL)
                try:
                    out = {"version": await conn.fetchval("SHOW server_version")}
                    for name in (
                        "shared_buffers",
                        "work_mem",
                        "effective_cache_size",
                        "max_connections",
                        "jit",
                    ):
                        out[name] = await conn.fetchval(f"SHOW {name}")
                    return out
                finally:
                    await conn.close()

            reader_settings = asyncio.run(fetch())
        except Exception as error:
            reader_settings = {"error": str(error)}
        env["postgresql"] = reader_settings
    return env


# Main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    run_dir = cfg.out or RESULTS_DIR / started_at.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"results in {run_dir}")
    harness.wrk_path()
    generation = prepare_databases(cfg)
    generation_seconds = time.perf_counter() - started
    if cfg.generate_only:
        log(f"databases ready in {generation_seconds:.0f} s")
        return 0
    data: dict[str, Any] = {}
    for kind in cfg.kinds:
        data[kind] = {}
        for scale in scales_of(cfg):
            meta = read_meta(kind, scale) or {}
            data[kind][scale_label(scale)] = {k: v for k, v in meta.items() if k != "keys"}
    results: dict[str, Any] = {}
    targets: list[dict[str, Any]] = []
    for kind in cfg.kinds:
        log(f"== {kind}")
        results[kind] = (
            operator_suite(cfg, kind, run_dir) if cfg.operator_tools_only else suite(cfg, kind, run_dir)
        )
        targets.extend(targets_for(kind, results[kind]))
    document = {
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds_total": round(time.perf_counter() - started, 1),
        "seconds_generation": round(generation_seconds, 1),
        "generation": generation,
        "command": "bench/run.sh " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "targets_definition": TARGETS,
        "environment": environment(cfg),
        "data": data,
        "results": results,
        "targets": targets,
    }
    (run_dir / "result.json").write_text(json.dumps(document, indent=2) + "\n")
    report.write(document, run_dir)
    latest = RESULTS_DIR / "latest"
    if run_dir.resolve().parent == RESULTS_DIR.resolve():
        if latest.exists():
            shutil.rmtree(latest)
        shutil.copytree(run_dir, latest, ignore=shutil.ignore_patterns("inputs", "logs"))
    failed = [t for t in targets if t["pass"] is False]
    log(
        f"done in {document['seconds_total']:.0f} s: "
        f"{len(targets) - len(failed)} of {len(targets)} target rows pass"
    )
    for row in failed:
        log(f"MISSED {row['db']}: {row['title']}: {row['measured']} (target {row['target']})")
    log(f"report: {run_dir / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
