"""A private PostgreSQL primary and its streaming replica, for the read-replica tests: initdb and
pg_basebackup -R from the server binaries (/usr/lib/postgresql/<version>/bin), run as the
`postgres` user, under a temporary directory, on free ports. Where the binaries are missing the
tests skip, except in CI (CI=true), where that is a failure: the replica tests must run there."""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factories import free_port


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    return Path(found[-1]).parent if found else None


def require_server_binaries() -> Path:
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries (initdb, pg_basebackup) not found"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the replica tests")
        pytest.skip(message)
    return binaries


@dataclass
class Cluster:
    """A primary and its replica: URLs (database `postgres`), and how to run a server command."""

    binaries: Path
    root: Path
    primary_port: int
    replica_port: int

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.binaries / tool), *args]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self, name: str, port: int) -> None:
        options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / f"{name}.log")
        self.run("pg_ctl", "-D", str(self.root / name), "-o", options, "-l", log, "-w", "start")

    def stop(self, name: str) -> None:
        self.run("pg_ctl", "-D", str(self.root / name), "-m", "fast", "-w", "stop")


def start_cluster() -> Iterator[Cluster]:
    binaries = require_server_binaries()
    root = Path(tempfile.mkdtemp(prefix="ugs_replica_"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(binaries, root, free_port(), free_port())
    started: list[str] = []
    try:
        cluster.run("initdb", "-D", str(root / "primary"), "-U", "postgres", "--auth=trust", "--no-sync")
        cluster.start("primary", cluster.primary_port)
        started.append("primary")
        cluster.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.primary_port), "-U", "postgres",
            "-D", str(root / "replica"), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        cluster.start("replica", cluster.replica_port)
        started.append("replica")
        yield cluster
    finally:
        for name in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by a test
                cluster.stop(name)
        shutil.rmtree(root, ignore_errors=True)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
