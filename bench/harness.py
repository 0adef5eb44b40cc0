"""The real server under load: start/stop uvicorn, run wrk, read CPU and memory from /proc."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import LUA_DIR, ROOT, VENV_BIN, database_url, log

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# /proc ------------------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process, in MB (1 MB = 1024 KiB), from /proc/<pid>/status."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() == "postgres":
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    server: float
    postgres: dict[int, float]  # per PostgreSQL process: backends come and go
    busy: float
    total: float
    at: float

    def postgres_since(self, before: CpuSnapshot) -> float:
        return sum(max(0.0, cpu - before.postgres.get(pid, 0.0)) for pid, cpu in self.postgres.items())

    def other_cores_since(self, before: CpuSnapshot, own_seconds: float = 0.0) -> float:
        """CPU cores used by anything but the server, PostgreSQL and `own_seconds` (the client)."""
        elapsed = self.at - before.at
        ours = (self.server - before.server) + self.postgres_since(before) + own_seconds
        return round(max(0.0, (self.busy - before.busy) - ours) / elapsed, 2) if elapsed > 0 else 0.0


# The server ---------------------------------------------------------------------------------------


def free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 10, preferred + 200)]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(port)
    raise RuntimeError("no free port on 127.0.0.1")


@dataclass
class Server:
    """`ugs serve --workers N --port P` on 127.0.0.1 against one bench database."""

    kind: str
    scale: float
    port: int
    workers: int
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": database_url(self.kind, self.scale), **self.extra_env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        command = [
            str(VENV_BIN / "ugs"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        log_file.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _, _ = request("127.0.0.1", self.port, "GET", "/readyz", timeout=2)
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server on port {self.port} not ready within 60 s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """With one worker uvicorn serves in the main process; with more, in spawned children."""
        if self.workers == 1:
            return [self.pid]
        return [
            child
            for child in children(self.pid)
            if "multiprocessing" in cmdline(child) and "resource_tracker" not in cmdline(child)
        ]

    def all_pids(self) -> list[int]:
        return [self.pid, *children(self.pid)]

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.all_pids())

    def rss(self) -> dict[str, float | None]:
        return {str(pid): rss_mb(pid) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session, started above
            self.process.wait(timeout=10)


def snapshot(server: Server) -> CpuSnapshot:
    busy, total = system_cpu()
    postgres = {pid: proc_cpu_seconds(pid) for pid in postgres_pids()} if server.kind == "pg" else {}
    return CpuSnapshot(server.cpu_seconds(), postgres, busy, total, time.monotonic())


# HTTP without a client library's overhead -----------------------------------------------------------


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def auth(key: str, json_body: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


# wrk ----------------------------------------------------------------------------------------------


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (bench/run.sh installs it: apt-get install -y wrk)")
    return path


def wrk_version() -> str:
    result = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).splitlines()[0].strip() if (result.stdout + result.stderr) else "?"


@dataclass
class Load:
    """One wrk load: `path` is the URL path for static GETs (scripts that build requests ignore it)."""

    name: str
    script: str
    args: list[str]
    path: str = "/"
    connections: int = 32
    threads: int = 1
    timeout_s: float = 5.0


def run_wrk(port: int, load: Load, seconds: float) -> dict[str, Any]:
    command = [
        wrk_path(),
        "-t",
        str(load.threads),
        "-c",
        str(load.connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        f"{load.timeout_s:g}s",
        "--latency",
        "-s",
        str(LUA_DIR / load.script),
        f"http://127.0.0.1:{port}{load.path}",
        "--",
        *load.args,
    ]
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = process.stdout.read().decode() if process.stdout else ""
    stderr = process.stderr.read().decode() if process.stderr else ""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            data["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
            return data
    raise RuntimeError(f"wrk gave no result (exit {process.returncode}): {stdout}\n{stderr}")


def measure(server: Server, load: Load, warmup: float, duration: float) -> dict[str, Any]:
    """Warm-up (discarded), then the measured run with the CPU of server, PostgreSQL and machine."""
    if warmup > 0:
        run_wrk(server.port, load, warmup)
    before = snapshot(server)
    raw = run_wrk(server.port, load, duration)
    after = snapshot(server)
    seconds = raw["duration_us"] / 1e6
    requests = raw["requests"]
    errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["status_errors"]
    errors += raw["timeouts"]
    server_cpu = after.server - before.server
    pg_cpu = after.postgres_since(before)
    busy = after.busy - before.busy
    total = after.total - before.total
    per_request = 1e6 / requests if requests else None
    result = {
        "name": load.name,
        "wrk_timeout_s": load.timeout_s,
        "connections": load.connections,
        "threads": load.threads,
        "seconds": round(seconds, 3),
        "requests": requests,
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "errors": errors,
        "non_2xx": raw["status_errors"],
        "socket_errors": errors - raw["status_errors"],
        "latency_ms": {
            "mean": round(raw["lat_mean_us"] / 1000, 3),
            "stdev": round(raw["lat_stdev_us"] / 1000, 3),
            "p50": round(raw["p50_us"] / 1000, 3),
            "p75": round(raw["p75_us"] / 1000, 3),
            "p90": round(raw["p90_us"] / 1000, 3),
            "p99": round(raw["p99_us"] / 1000, 3),
            "p999": round(raw["p999_us"] / 1000, 3),
            "max": round(raw["lat_max_us"] / 1000, 3),
        },
        "bytes_per_response": round(raw["bytes"] / requests) if requests else 0,
        "cpu": {
            "server_us_per_req": round(server_cpu * per_request, 1) if per_request else None,
            "postgres_us_per_req": round(pg_cpu * per_request, 1)
            if per_request and server.kind == "pg"
            else None,
            "wrk_us_per_req": round(raw["wrk_cpu_s"] * per_request, 1) if per_request else None,
            "server_busy_pct": round(100 * server_cpu / seconds, 1),
            "machine_busy_pct": round(100 * busy / total, 1) if total else None,
            # Machine CPU not used by the server, PostgreSQL or wrk: other work that disturbed the run.
            "other_cores": round(max(0.0, busy - server_cpu - pg_cpu - raw["wrk_cpu_s"]) / seconds, 2),
        },
    }
    tag = f"{load.name:<22} {result['rps']:>8.1f} rps  p50 {result['latency_ms']['p50']:>7.2f} ms"
    log(f"{tag}  p99 {result['latency_ms']['p99']:>7.2f} ms  errors {errors}")
    return result


# Memory sampling ---------------------------------------------------------------------------------


class RssSampler:
    """VmRSS of the worker processes every `interval` seconds, in a thread."""

    def __init__(self, pids: list[int], interval: float = 0.1) -> None:
        self.pids = pids
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, max RSS over workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            values = [v for v in (rss_mb(pid) for pid in self.pids) if v is not None]
            if values:
                self.samples.append((time.monotonic() - self._started, max(values)))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
