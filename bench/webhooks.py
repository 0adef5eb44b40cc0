"""Webhook numbers on loopback (issue 12): commit-to-receiver latency at a steady rate of
changes, and no event lost when the worker is killed with SIGKILL mid-batch or when the receiver
is down for a while.

    .venv/bin/python -m bench.webhooks [--db sqlite|pg] [--rate 50] [--seconds 30] [--down 60]

Starts the real server (`ugs serve`) and a separate `ugs worker` on a fresh database, a receiver
on 127.0.0.1 that verifies every signature with the `standardwebhooks` library, and changes a
card `--rate` times per second over HTTP. Latency is measured from the event's `timestamp` (taken
in the change's transaction, so before its commit: an upper bound) to the moment the receiver has
the verified webhook; `from_request_p99_ms` counts from when the client sent the change. Prints a
JSON result.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
CARDS = 100
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.arrivals: dict[str, float] = {}  # event id -> first arrival
        self.changed_at: dict[str, float] = {}
        self.copies = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver behind any server

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                now = time.time()
                try:
                    event = Webhook(receiver.secret).verify(body, dict(self.headers))
                except Exception:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self.send_response(400)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.copies += 1
                    receiver.arrivals.setdefault(event["id"], now)
                    # The change's time, taken in its transaction (so before its commit).
                    receiver.changed_at.setdefault(
                        event["id"], datetime.fromisoformat(event["timestamp"]).timestamp()
                    )
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile_ms(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return None
    return round(statistics.quantiles(values, n=100)[q - 1] * 1000, 1)


def database(kind: str, directory: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}", None
    name = f"{os.environ.get('BENCH_DB_PREFIX', 'ugs_bench')}_webhooks_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", PG_URL, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    return PG_URL.rsplit("/", 1)[0] + f"/{name}", name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--down", type=float, default=60, help="receiver down for this long")
    parser.add_argument("--latency-only", action="store_true", help="skip the SIGKILL and outage cases")
    parser.add_argument(
        "--worker-root", type=Path, default=ROOT, help="a checkout whose `ugs worker` runs (an A/B)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, pg_name = database(args.db, Path(tmp))
        try:
            print(json.dumps(run(url, Path(tmp), args), indent=2))
        finally:
            if pg_name:
                subprocess.run(
                    ["psql", PG_URL, "-qc", f'DROP DATABASE "{pg_name}" WITH (FORCE)'], check=False
                )


def run(database_url: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_WORKER_IN_PROCESS": "false",
        "WEBHOOK_SECRET_KEY_FILE": str(tmp / "key"),
        "WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "WEBHOOK_POLL_INTERVAL_SECONDS": "0.05",
        # Waits long enough to outlast the outage, short enough for a bench run (the default
        # schedule's second wait is 5 min; what is measured is that nothing is lost).
        "WEBHOOK_RETRY_DELAYS_SECONDS": "[1, 5, 10, 20, 30, 60, 120]",
        "WEBHOOK_LEASE_SECONDS": "15",
    }
    ugs = [sys.executable, "-m", "app.cli"]
    subprocess.run([*ugs, "migrate"], cwd=ROOT, env=env, check=True)
    subprocess.run([*ugs, "create-org", "bench"], cwd=ROOT, env=env, check=True, capture_output=True)
    made = subprocess.run(
        [*ugs, "create-api-key", "--org", "bench", "--name", "bench", "--role", "admin"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([*ugs, "serve", "--port", str(port)], cwd=ROOT, env=env)
    workers = [subprocess.Popen([*ugs, "worker"], cwd=args.worker_root, env=env)]
    receiver = Receiver()
    receiver.start()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    http = httpx.Client(timeout=60)  # the bench's own requests: a loaded machine answers slowly
    try:
        started = time.monotonic()
        while time.monotonic() - started < 180:  # a loaded machine starts the server slowly
            try:
                if http.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        created = http.post(
            f"{base}/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["card.updated"]},
            headers=headers,
        ).json()
        receiver.secret = created["secret"]
        group = http.post(f"{base}/v1/user-groups", json={"name": "bench"}, headers=headers).json()
        # Many cards, changed in turn: changes of one row would queue on its lock.
        cards = [{"uid": f"BENCH{number:04d}"} for number in range(CARDS)]
        http.post(f"{base}/v1/user-groups/{group['id']}/cards/bulk", json={"cards": cards}, headers=headers)
        listed = http.get(f"{base}/v1/user-groups/{group['id']}/cards?limit=200", headers=headers).json()
        card_ids = [card["id"] for card in listed["items"]]
        sent: dict[str, float] = {}
        failed_changes: list[int] = []  # refused or timed out (not events unless they committed)

        async def drive(seconds: float, on_tick: Any = None) -> None:
            interval = 1 / args.rate
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
                start = time.monotonic()
                tasks = []
                tick = 0
                while time.monotonic() - start < seconds:
                    tasks.append(asyncio.create_task(change(client, tick)))
                    if on_tick:
                        on_tick(time.monotonic() - start)
                    tick += 1
                    await asyncio.sleep(max(0.0, start + tick * interval - time.monotonic()))
                await asyncio.gather(*tasks)

        async def change(client: httpx.AsyncClient, tick: int) -> None:
            at = time.time()
            sent[str(tick)] = at
            card_id = card_ids[tick % len(card_ids)]
            for _ in range(5):  # a 503 (the database busy) is retried, as a client would
                try:
                    response = await client.patch(f"/v1/cards/{card_id}", json={"label": f"bench {tick}"})
                except httpx.TimeoutException:
                    failed_changes.append(tick)  # an overloaded server; if it committed, the feed has it
                    return
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            if response.status_code >= 400:
                failed_changes.append(tick)

        def event_ids() -> dict[str, float]:
            """Event id -> when its change was sent (label 'bench N' -> tick N)."""
            page_cursor = None
            found: dict[str, float] = {}
            while True:
                params = {
                    "type": "card.updated",
                    "limit": 500,
                    **({"cursor": page_cursor} if page_cursor else {}),
                }
                page = http.get(f"{base}/v1/events", params=params, headers=headers).json()
                for event in page["items"]:
                    tick = event["data"]["state"]["label"].split()[-1]
                    found[event["id"]] = sent[tick]
                if not page["items"]:
                    return found
                page_cursor = page["next_cursor"]

        def wait_all(timeout: float) -> tuple[int, int, float]:
            deadline = time.monotonic() + timeout
            expected = event_ids()
            while time.monotonic() < deadline:
                with receiver.lock:
                    missing = set(expected) - set(receiver.arrivals)
                if not missing:
                    break
                time.sleep(0.2)
            with receiver.lock:
                missing = set(expected) - set(receiver.arrivals)
            return len(expected), len(missing), timeout - (deadline - time.monotonic())

        def cpu_now() -> dict[str, float]:
            times = os.times()
            return {
                "server": cpu_seconds(server.pid),
                "worker": cpu_seconds(workers[-1].pid),
                "bench_driver_and_receiver": times.user + times.system,
            }

        def split(expected: dict[str, float]) -> dict[str, Any]:
            """Event time -> the worker's try (commit, wait for a worker), and try -> arrival
            (signing, HTTP, the receiver), from the delivery log of first tries that succeeded."""
            log: list[Any] = []
            cursor = None
            while True:
                params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                page = http.get(
                    f"{base}/v1/webhook-endpoints/{created['id']}/deliveries", params=params, headers=headers
                ).json()
                log += page["items"]
                cursor = page.get("next_cursor")
                if not cursor or not page["items"]:
                    break
            to_try, to_arrival = [], []
            for item in log:
                event_id = item["event_id"]
                if item["attempts"] != 1 or event_id not in expected or event_id not in receiver.arrivals:
                    continue
                tried = datetime.fromisoformat(item["last_attempt_at"]).timestamp()
                to_try.append(tried - receiver.changed_at[event_id])
                to_arrival.append(receiver.arrivals[event_id] - tried)
            return {
                "event_to_try_p50_ms": quantile_ms(to_try, 50),
                "event_to_try_p99_ms": quantile_ms(to_try, 99),
                "try_to_arrival_p50_ms": quantile_ms(to_arrival, 50),
                "try_to_arrival_p99_ms": quantile_ms(to_arrival, 99),
            }  # fmt: skip

        # 1. latency at a steady rate
        cpu_before, load_before, began = cpu_now(), os.getloadavg(), time.monotonic()
        asyncio.run(drive(args.seconds))
        total, lost, _ = wait_all(60)
        cpu_after, load_after, took_s = cpu_now(), os.getloadavg(), time.monotonic() - began
        expected = event_ids()
        latencies = sorted(
            receiver.arrivals[i] - receiver.changed_at[i] for i in expected if i in receiver.arrivals
        )
        # From the moment the client sent the change: includes the API's own queueing.
        from_request = sorted(receiver.arrivals[i] - expected[i] for i in expected if i in receiver.arrivals)
        quantiles = statistics.quantiles(latencies, n=100)
        latency = {
            "changes": total, "lost": lost, "rate_per_second": args.rate,
            "p50_ms": round(quantiles[49] * 1000, 1), "p99_ms": round(quantiles[98] * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1),
            "from_request_p99_ms": round(statistics.quantiles(from_request, n=100)[98] * 1000, 1),
            "achieved_changes_per_second": round(total / args.seconds, 1),
            "changes_refused_or_timed_out": len(failed_changes),
            **split(expected),
            "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "cpu_share_of_one_core": {
                name: round((cpu_after[name] - cpu_before[name]) / took_s, 2) for name in cpu_after
            },
        }  # fmt: skip

        print(json.dumps({"latency": latency}), file=sys.stderr, flush=True)  # kept if a later case fails
        if args.latency_only:
            kind = database_url.split(":", 1)[0]
            return {"database": kind, "worker_root": str(args.worker_root), "latency": latency}

        # 2. the worker killed with SIGKILL mid-batch, a new one started 2 s later
        before = len(receiver.arrivals)
        killed = {"done": False}

        def kill_once(elapsed: float) -> None:
            if not killed["done"] and elapsed > args.seconds / 3:
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                killed["done"] = True
                threading.Timer(
                    2, lambda: workers.append(subprocess.Popen([*ugs, "worker"], cwd=ROOT, env=env))
                ).start()

        asyncio.run(drive(args.seconds, kill_once))
        total, lost, _ = wait_all(120)
        sigkill = {"changes": total - before, "lost": lost, "copies_received": receiver.copies}
        print(json.dumps({"sigkill": sigkill}), file=sys.stderr, flush=True)

        # 3. the receiver down for `--down` seconds while changes go on
        receiver.stop()
        asyncio.run(drive(min(args.seconds, args.down)))
        time.sleep(max(0.0, args.down - args.seconds))
        receiver.start()
        total, lost, took = wait_all(600)
        outage = {
            "down_seconds": args.down,
            "changes_total": total,
            "lost": lost,
            "delivered_after_s": round(took, 1),
        }
        return {
            "database": database_url.split(":", 1)[0],
            "latency": latency, "sigkill": sigkill, "receiver_down": outage,
            "bad_signatures": receiver.bad_signatures,
            "changes_refused_or_timed_out_all_phases": len(failed_changes),
        }  # fmt: skip
    finally:
        http.close()
        receiver.stop()
        for process in [*workers, server]:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


if __name__ == "__main__":
    main()
