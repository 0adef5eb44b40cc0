"""Every Prometheus metric of the service, and the /metrics text that adds up over all workers.

Several workers (`ugs serve --workers N`) are several processes. `ugs serve` then points
PROMETHEUS_MULTIPROC_DIR at a fresh directory before they start; each worker writes its values to
files there and a scrape, served by whichever worker, sums the files of all of them
(prometheus_client's multiprocess mode). Counters of a worker that died stay counted, so totals
never go backwards; its gauges of live values are dropped.
"""

import contextlib
import glob
import os
import re
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

if TYPE_CHECKING:
    from app.db import PoolStatus

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
GIT_COMMIT_ENV = "GIT_COMMIT"
DISTRIBUTION = "user-groups-service"
ROOT = Path(__file__).resolve().parent.parent

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AUTHORIZATION_DECISIONS = Counter(
    "authorization_decisions_total", "Authorization decisions by OCPP status", ["status"]
)
AUTHORIZATION_REFUSALS = Counter(
    "authorization_refusals_total", "Refused authorizations by reason", ["reason"]
)
# Summed over the live workers of the instance.
DB_POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "Database connections of the SQLAlchemy pools by state (in_use: checked out, idle: in the pool)",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "db_pool_waiting",
    "Requests waiting for a database connection (all in use)",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "db_pool_max_connections",
    "Most connections the pools may open (pool size + overflow, per worker, summed)",
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "build_info",
    "Always 1; the labels say which build runs",
    ["version", "commit", "python"],
    multiprocess_mode="max",
)


def record_pool(status: "PoolStatus | None") -> None:
    if status is None:
        return
    DB_POOL_CONNECTIONS.labels("in_use").set(status.in_use)
    DB_POOL_CONNECTIONS.labels("idle").set(status.idle)
    DB_POOL_WAITING.set(status.waiting)
    DB_POOL_MAX.set(status.max_connections)


@cache
def build_info() -> dict[str, str]:
    """Version from the installed package; commit from GIT_COMMIT (set by the image build), else
    from the git checkout the code runs from, else "unknown"."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = os.environ.get(GIT_COMMIT_ENV, "").strip() or _git_commit() or "unknown"
    python = ".".join(str(part) for part in sys.version_info[:3])
    return {"version": version, "commit": commit, "python": python}


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, if any
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def publish_build_info() -> None:
    BUILD_INFO.labels(**build_info()).set(1)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def exposition() -> bytes:
    """The Prometheus text: this process's registry, or the sum over all workers' files."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    forget_dead_workers(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def forget_dead_workers(directory: str) -> None:
    """Drops the live gauges of workers that are gone (killed, crashed): a worker that stops
    cleanly does this itself (`worker_stopped`), one that was killed cannot."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_GAUGE_FILE.search(path)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):  # another worker's scrape was quicker
                mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_stopped() -> None:
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def prepare_multiprocess_dir(directory: Path) -> None:
    """A fresh start: the files of a previous run would be added to this run's totals."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
