"""A/B of POST /v1/authorize in one run: this checkout's code (B) against another source tree (A,
e.g. `git archive main | tar -x -C /tmp/main-src`), both served against the same bench database,
loaded alternately with the harness's body mix (3 % unknown UIDs) and the /healthz ceiling.

    .venv/bin/python -m bench.ab_authorize --a-src /tmp/main-src --db sqlite --scale 0.05 --rounds 4

Build the database first with this checkout (`python -m bench.datagen 0.05 sqlite`): B's migration
head. A's server is started with `/healthz` as readiness, since its /readyz wants its own head.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench import harness, workload
from bench.common import ROOT, VENV_BIN, database_url, log, read_meta


def start(src: Path, kind: str, scale: float, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url(kind, scale), "PYTHONPATH": str(src)}
    command = [str(VENV_BIN / "python"), "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=src, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if harness.request("127.0.0.1", port, "GET", "/healthz", timeout=2)[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server from {src} not up; see {log_path}")


def cpu_seconds(pid: int) -> float:
    """The server's CPU (one worker: uvicorn serves in its main process; children counted too)."""
    return sum(harness.proc_cpu_seconds(p) for p in [pid, *harness.children(pid)])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a-src", type=Path, required=True)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ab_authorize")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    meta = read_meta(args.db, args.scale)
    assert meta is not None, "build the database first (python -m bench.datagen)"
    key = meta["keys"]["integration"]["key"]
    bodies = workload.with_reader(
        args.db, args.scale, lambda r: workload.build_authorize_bodies(r, 20_000, 7)
    )
    bodies_file = workload.write_lines(args.out / "bodies.txt", [b.body for b in bodies])
    authorize = harness.Load("authorize", "authorize.lua", [str(bodies_file), key, "7"], "/", 32, 1)
    ceiling = harness.Load("ceiling", "static.lua", ["-"], "/healthz", 32, 1)
    port_a = harness.free_port(18600)
    port_b = harness.free_port(port_a + 1)
    servers = {
        "A": (port_a, start(args.a_src, args.db, args.scale, port_a, args.out / "a.log")),
        "B": (port_b, start(ROOT, args.db, args.scale, port_b, args.out / "b.log")),
    }
    results: dict[str, dict[str, list[float]]] = {
        name: {"authorize": [], "ceiling": [], "errors": [], "server_cpu_us": []} for name in servers
    }
    try:
        for port, _ in servers.values():
            harness.run_wrk(port, authorize, 2)  # warm-up
        for round_ in range(args.rounds):
            for name in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                port = servers[name][0]
                process = servers[name][1]
                before = cpu_seconds(process.pid)
                run = harness.run_wrk(port, authorize, args.seconds)
                cpu_us = (cpu_seconds(process.pid) - before) / max(run["requests"], 1) * 1e6
                results[name]["server_cpu_us"].append(cpu_us)
                top = harness.run_wrk(port, ceiling, args.seconds / 2)
                results[name]["authorize"].append(run["requests"] / (run["duration_us"] / 1e6))
                results[name]["ceiling"].append(top["requests"] / (top["duration_us"] / 1e6))
                results[name]["errors"].append(run["status_errors"] + run["timeouts"] + run["read_errors"])
                rps, top_rps = results[name]["authorize"][-1], results[name]["ceiling"][-1]
                log(
                    f"round {round_} {name}: authorize {rps:.0f} rps ({cpu_us:.0f} us server CPU per "
                    f"request), ceiling {top_rps:.0f} rps, load {os.getloadavg()[0]:.2f}"
                )
    finally:
        for _, process in servers.values():
            stop(process)
    summary = {
        name: {
            "authorize_rps_median": statistics.median(r["authorize"]),
            "ceiling_rps_median": statistics.median(r["ceiling"]),
            "ratio_median": statistics.median(
                a / c for a, c in zip(r["authorize"], r["ceiling"], strict=True)
            ),
            "server_cpu_us_median": statistics.median(r["server_cpu_us"]),
            "runs": r,
        }
        for name, r in results.items()
    }
    summary["B_over_A_authorize_rps"] = (
        summary["B"]["authorize_rps_median"] / summary["A"]["authorize_rps_median"]
    )  # type: ignore[index]
    summary["load_average"] = os.getloadavg()  # type: ignore[assignment]
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
