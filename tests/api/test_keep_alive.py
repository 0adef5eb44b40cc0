"""An error answer never costs the client its connection: after a 500 and after a 503 the next
request on the same keep-alive connection is served. Against a real uvicorn server (the same
protocol implementation `ugs serve` runs), because the test client has no connections to lose."""

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request

from app.main import create_app
from app.settings import Settings
from tests.conftest import is_postgres
from tests.factories import Org
from tests.pg_proxy import Mode, PostgresProxy

PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_test_routes(app: FastAPI) -> FastAPI:
    """Two routes for the test only: one with a bug, and one that tells the caller's address, which
    is how the test sees that its requests came over one connection."""
    router = APIRouter()

    @router.get("/test/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @router.get("/test/peer")
    async def peer(request: Request) -> dict[str, Any]:
        assert request.client is not None
        return {"port": request.client.port}

    app.include_router(router)
    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def assert_not_closing(failing: httpx.Response) -> None:
    assert failing.headers["content-type"] == PROBLEM
    assert failing.headers.get("connection", "").lower() != "close"


def peer_port(client: httpx.Client) -> int:
    response = client.get("/test/peer")
    assert response.status_code == 200, response.text
    port: int = response.json()["port"]
    return port


def test_a_500_keeps_the_connection(settings: Settings) -> None:
    app = with_test_routes(create_app(settings))
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        first = peer_port(client)
        for _ in range(3):
            failing = client.get("/test/bug")
            assert failing.status_code == 500
            assert failing.json()["type"].endswith("/internal-error")
            assert_not_closing(failing)
            assert peer_port(client) == first, "the server closed the connection after the 500"


@pytest.mark.parametrize("fault", ["refuse", "starting"])
def test_a_503_keeps_the_connection_on_every_kind_of_route(org: Org, fault: Mode) -> None:
    # The app's database is a proxy that refuses connections or answers each with PostgreSQL's
    # 57P03 "starting up" itself; neither needs a server behind it, so this runs on both suites.
    proxy = PostgresProxy("127.0.0.1", free_port())
    proxy.set_mode(fault)
    unreachable = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{proxy.port}/none", log_level="ERROR"
    )
    app = with_test_routes(create_app(unreachable))
    try:
        body = {"id_token": "04A1B2C3", "connector_id": "00000000-0000-0000-0000-000000000001"}
        with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
            first = peer_port(client)
            for method, path, json in (
                ("GET", "/v1/user-groups", None),
                ("POST", "/v1/authorize", body),
                ("POST", "/v1/charging-groups", {"name": "during the outage"}),
            ):
                failing = client.request(method, path, json=json, headers=org.auth())
                assert failing.status_code == 503, failing.text
                assert failing.headers["retry-after"].isdigit()
                assert failing.json()["type"].endswith("/service-unavailable")
                assert_not_closing(failing)
                assert peer_port(client) == first, f"the server closed the connection after {method} {path}"
    finally:
        proxy.close()


@pytest.mark.skipif(
    is_postgres(), reason="SQLite's lock; PostgreSQL's faults are in gates/test_database_faults.py"
)
def test_a_locked_sqlite_database_is_a_503_within_the_bound(settings: Settings, org: Org) -> None:
    bounded = settings.model_copy(update={"db_request_timeout_seconds": 0.5})
    app = create_app(bounded)
    path = settings.database_url.split(":///", 1)[1]
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
            started = time.monotonic()
            failing = client.post("/v1/charging-groups", json={"name": "locked"}, headers=org.auth())
            elapsed = time.monotonic() - started
            assert failing.status_code == 503, failing.text
            assert failing.headers["retry-after"].isdigit()
            assert elapsed < 0.5 + 1.0, f"answered after {elapsed:.1f} s"
            locker.execute("ROLLBACK")
            again = client.post("/v1/charging-groups", json={"name": "unlocked"}, headers=org.auth())
            assert again.status_code == 201, again.text
    finally:
        locker.close()
