"""One connection budget: a worker never holds more than DB_POOL_SIZE + DB_MAX_OVERFLOW PostgreSQL
connections, the authorize hot path included, however the load is mixed.

A real uvicorn worker (`ugs serve`) runs alone on a database of its own, so every connection to
that database but the counter's own is the worker's. Concurrent authorize, list and write requests
load it while pg_stat_activity is sampled.
"""

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.cli import migrate
from app.db import APPLICATION_NAME
from app.enums import Role
from app.main import create_app
from app.settings import Settings, normalize_database_url
from tests.conftest import behind_pgbouncer, fresh_database_url, is_postgres
from tests.factories import Org, add_card, create_user_group, free_port, make_org, make_site

pytestmark = [
    pytest.mark.skipif(not is_postgres(), reason="counts PostgreSQL connections"),
    # Behind PgBouncer the server connections are PgBouncer's (docs/scaling.md sizes both sides);
    # the worker's own budget is proven by the direct PostgreSQL run.
    pytest.mark.skipif(behind_pgbouncer(), reason="counts the service's own PostgreSQL backends"),
]

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE, MAX_OVERFLOW = 3, 2
CLIENTS = 24
LOAD_SECONDS = 4.0


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url_iterator = fresh_database_url(tmp_path_factory.mktemp("budget"))
    url = next(url_iterator)
    migrate(url)
    yield url
    next(url_iterator, None)


@pytest.fixture(scope="module")
def world(own_database: str) -> tuple[Org, list[str], str]:
    """An organization with one card per user group; the app that made it is closed again."""
    with TestClient(create_app(Settings(database_url=own_database, log_level="WARNING"))) as client:
        org = make_org(client)
        site = make_site(client, org, connectors=2)
        uids = []
        for number in range(5):
            group = create_user_group(client, org, activation={"scope": "all"})
            uids.append(add_card(client, org, group["id"], f"BUDGET{number:04d}")["uid"])
        return org, uids, site["connectors"][0]["id"]


@pytest.fixture(scope="module")
def server(own_database: str, world: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("budget-server") / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": own_database,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_MAX_OVERFLOW": str(MAX_OVERFLOW),
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class ConnectionCounter:
    """Samples pg_stat_activity every 20 ms: the worker's connections to its database, by name."""

    def __init__(self, database_url: str) -> None:
        self.dsn = normalize_database_url(database_url).replace("postgresql+asyncpg://", "postgresql://")
        self.database = self.dsn.rsplit("/", 1)[1]
        self.most = 0
        self.names: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._sample()), daemon=True)

    async def _sample(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(self.dsn)
        try:
            while not self.stop.is_set():
                rows = await connection.fetch(
                    "SELECT application_name FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.database,
                )
                self.most = max(self.most, len(rows))
                self.names |= {row["application_name"] for row in rows}
                await asyncio.sleep(0.02)
        finally:
            await connection.close()

    def __enter__(self) -> "ConnectionCounter":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_a_worker_holds_at_most_pool_size_plus_overflow_connections(
    server: str, own_database: str, world: tuple[Org, list[str], str]
) -> None:
    org, uids, connector_id = world
    statuses: dict[str, list[int]] = {"authorize": [], "list": [], "write": []}
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS

    def client_loop(number: int) -> None:
        chooser = random.Random(number)
        with httpx.Client(base_url=server, timeout=30) as client:
            while time.monotonic() < deadline:
                kind = chooser.choice(["authorize", "authorize", "list", "write"])
                if kind == "authorize":
                    body = {"id_token": chooser.choice(uids), "connector_id": connector_id}
                    response = client.post("/v1/authorize", json=body, headers=org.auth(Role.integration))
                elif kind == "list":
                    response = client.get("/v1/user-groups?limit=50", headers=org.auth())
                else:
                    name = f"budget {uuid.uuid4().hex}"
                    response = client.post("/v1/charging-groups", json={"name": name}, headers=org.auth())
                with lock:
                    statuses[kind].append(response.status_code)

    with ConnectionCounter(own_database) as counter:
        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for kind, codes in statuses.items():
        assert codes, f"no {kind} request was made"
        assert all(code in (200, 201) for code in codes), (kind, sorted(set(codes)))
    budget = POOL_SIZE + MAX_OVERFLOW
    assert counter.most <= budget, f"the worker held {counter.most} connections; the budget is {budget}"
    # The load was enough to need the overflow, or the bound above proves nothing.
    assert counter.most > POOL_SIZE, f"only {counter.most} connections were ever open: no load"
    assert counter.names == {APPLICATION_NAME}, counter.names
