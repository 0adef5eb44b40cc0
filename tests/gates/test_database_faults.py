"""Gate 5: the database goes away and comes back.

A TCP proxy stands between the app and PostgreSQL; closing it is the database becoming unreachable
(every open connection cut, new ones refused). The app must answer fast with 503 problems, never
hang or show a stack trace, and recover by itself when the proxy is back: no restart.
(A request that fails half-way leaving no partial write is shown for both databases by
test_audit_completeness.py::test_failed_write_leaves_neither_change_nor_record.)
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings, normalize_database_url
from tests.conftest import is_postgres
from tests.factories import Org

pytestmark = pytest.mark.skipif(
    not is_postgres(), reason="needs a database server to cut off; the SQLite database is a local file"
)


class Proxy:
    """A TCP forwarder on its own event loop thread that can be cut and restored."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def _run(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)  # type: ignore[arg-type]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        self.writers |= {client_writer, server_writer}
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
        )

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()

    def start(self) -> None:
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def proxy(database_url: str) -> Iterator[Proxy]:
    parts = urlsplit(normalize_database_url(database_url))
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


def test_unreachable_database_gives_503_and_recovers(
    client: TestClient, org: Org, database_url: str, proxy: Proxy
) -> None:
    parts = urlsplit(normalize_database_url(database_url))
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0] + "@" if len(netloc) == 2 else ""
    via_proxy = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
    settings = Settings(database_url=via_proxy, log_level="WARNING", db_pool_timeout_seconds=1)

    with TestClient(create_app(settings), raise_server_exceptions=False) as app_client:
        assert app_client.get("/readyz").status_code == 200
        assert app_client.get("/v1/charging-groups", headers=org.auth()).status_code == 200

        proxy.stop()
        for _ in range(3):
            started = time.monotonic()
            ready = app_client.get("/readyz")
            api = app_client.get("/v1/charging-groups", headers=org.auth())
            elapsed = time.monotonic() - started
            assert ready.status_code == 503
            assert api.status_code == 503, api.text
            assert api.headers["content-type"] == "application/problem+json"
            assert api.json()["type"].endswith("/service-unavailable")
            assert "Traceback" not in api.text and "asyncpg" not in api.text
            assert elapsed < 10, f"answers took {elapsed:.1f} s: a client would think we hang"
        write = app_client.post("/v1/charging-groups", json={"name": "during outage"}, headers=org.auth())
        assert write.status_code == 503

        proxy.start()
        deadline = time.monotonic() + 10
        while app_client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover without a restart"
            time.sleep(0.2)
        recovered = app_client.get("/v1/charging-groups", headers=org.auth())
        assert recovered.status_code == 200
        assert "during outage" not in recovered.text
