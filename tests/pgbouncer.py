"""A private PgBouncer in transaction pooling mode in front of a PostgreSQL server: Debian's
`pgbouncer` binary with its own configuration in a temporary directory, on a free port, as a
non-root user (`postgres` when started by root). Every database of the server is reachable
through it (`* =`), so the suite's fresh databases and the bench databases work unchanged.

    python -m tests.pgbouncer scripts/test.sh   # run a command with DATABASE_URL through PgBouncer

The command gets DATABASE_URL pointing at PgBouncer and DATABASE_PGBOUNCER=true; the upstream is
DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_UPSTREAM = "postgresql://postgres@127.0.0.1:5432/postgres"
BINARY = "pgbouncer"
# Server connections per (database, user) pair: above what one test process or bench server needs
# at once (DB_POOL_SIZE + DB_MAX_OVERFLOW per worker), below PostgreSQL's max_connections.
POOL_SIZE = 40


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(root: Path, port: int, host: str, upstream_port: int, user: str, pool_size: int) -> str:
    return f"""[databases]
* = host={host} port={upstream_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {root}
pidfile = {root}/pgbouncer.pid
logfile = {root}/pgbouncer.log
auth_type = trust
auth_file = {root}/userlist.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 2000
max_db_connections = {pool_size}
server_reset_query =
ignore_startup_parameters = extra_float_digits
"""


def version() -> str:
    """`PgBouncer 1.18.0`: the first line of `pgbouncer --version`."""
    output = subprocess.run([BINARY, "--version"], check=True, capture_output=True, text=True).stdout
    return output.splitlines()[0].strip()


@contextmanager
def running_pgbouncer(upstream_url: str = DEFAULT_UPSTREAM, pool_size: int = POOL_SIZE) -> Iterator[str]:
    """Start PgBouncer in front of `upstream_url` with `pool_size` server connections per database;
    yield the same URL through it; stop it."""
    if shutil.which(BINARY) is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install -y pgbouncer)")
    parts = urlsplit(upstream_url)
    user = parts.username or "postgres"
    root = Path(tempfile.mkdtemp(prefix="ugs_pgbouncer_"))
    port = _free_port()
    (root / "userlist.txt").write_text(f'"{user}" ""\n')
    config = root / "pgbouncer.ini"
    config.write_text(_config(root, port, parts.hostname or "127.0.0.1", parts.port or 5432, user, pool_size))
    command = [BINARY, str(config)]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        shutil.chown(root, "postgres", "postgres")
        for path in root.iterdir():
            shutil.chown(path, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        netloc = f"{user}@127.0.0.1:{port}"
        yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited: {error}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")


def main(argv: list[str]) -> int:
    upstream = os.environ.get("DATABASE_URL", DEFAULT_UPSTREAM)
    with running_pgbouncer(upstream) as url:
        print(f"== {version()} in transaction pooling mode at {url}", flush=True)
        env = {**os.environ, "DATABASE_URL": url, "DATABASE_PGBOUNCER": "true"}
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
