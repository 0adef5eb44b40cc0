"""`ugs serve --workers 2` as a real server: metrics that add up over both workers, and every line
it writes (uvicorn's own included) one JSON object with an RFC 3339 UTC time."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.cli import ROOT, migrate
from app.db import Database, UnitOfWork
from app.enums import Role
from app.services import api_keys
from app.settings import Settings
from tests.conftest import fresh_database_url
from tests.factories import free_port

START_SECONDS = 120
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass
class Server:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    metrics_dir: Path
    organization_id: str
    api_key_id: str
    secret: str

    def lines(self) -> list[str]:
        return [line for path in (self.stdout, self.stderr) for line in path.read_text().splitlines()]

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines()]


async def _make_key(database_url: str) -> tuple[str, str, str]:
    db = Database(Settings(database_url=database_url))
    try:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, "Server test")
            ctx = api_keys.system_context(organization.id, "tests")
            key, secret = await api_keys.create_api_key(session, ctx, "reader", Role.viewer)
        return str(organization.id), str(key.id), secret
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("server")
    for database_url in fresh_database_url(directory):
        migrate(database_url)
        organization_id, api_key_id, secret = asyncio.run(_make_key(database_url))
        metrics_dir = directory / "metrics"
        metrics_dir.mkdir()
        (metrics_dir / "counter_4242.db").write_bytes(b"left over from an earlier start")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"]
        stdout, stderr = directory / "stdout.log", directory / "stderr.log"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        running = Server(
            f"http://127.0.0.1:{port}",
            database_url,
            process,
            stdout,
            stderr,
            metrics_dir,
            organization_id,
            api_key_id,
            secret,
        )
        try:
            _wait_for_two_workers(running)
            yield running
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_for_two_workers(server: Server, without: int | None = None) -> None:
    """Until two workers (other than `without`) have started and are alive."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n" + "\n".join(server.lines()))
        started = {
            pid
            for record in map(json.loads, server.stdout.read_text().splitlines())
            if record["message"] == "Application startup complete."
            and (pid := int(str(record["pid"]))) != without
            and Path(f"/proc/{pid}").exists()
        }
        if len(started) >= 2:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"two workers did not start in {START_SECONDS} s:\n" + "\n".join(server.lines()))
        time.sleep(0.2)


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_add_up_over_the_workers(server: Server) -> None:
    healthz = 'http_requests_total{method="GET",route="/healthz",status="200"}'
    cards = 'http_requests_total{method="GET",route="/v1/cards/{card_id}",status="422"}'
    auth = {"Authorization": f"Bearer {server.secret}"}
    assert not (server.metrics_dir / "counter_4242.db").exists()  # a fresh start

    def fresh_connection(path: str) -> int:
        # A new connection per request, so the kernel hands them to either worker.
        with httpx.Client(base_url=server.base_url, headers=auth, timeout=30) as client:
            return client.get(path).status_code

    sent_healthz = sent_cards = 0
    scraped = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(8):
            assert set(pool.map(fresh_connection, ["/healthz"] * 12)) == {200}
            assert set(pool.map(fresh_connection, ["/v1/cards/c"] * 2)) == {422}
            sent_healthz += 12
            sent_cards += 2
            text = httpx.get(f"{server.base_url}/metrics", timeout=30).text
            scraped.append((_value(text, healthz), _value(text, cards)))
            assert scraped[-1] == (sent_healthz, sent_cards), (scraped, text)
    assert [h for h, _ in scraped] == sorted(h for h, _ in scraped)

    served_by = {
        int(str(record["pid"]))
        for record in server.records()
        if record.get("logger") == "app.access" and record.get("path") == "/healthz"
    }
    assert len(served_by) == 2, "the requests did not reach both workers"
    pids = {int(m.group(1)) for p in server.metrics_dir.iterdir() if (m := re.search(r"_(\d+)\.db$", p.name))}
    assert served_by <= pids

    # Gauges of the live workers add up: each may open as many connections as its pool allows.
    db = Database(Settings(database_url=server.database_url))
    status = db.pool_status()
    asyncio.run(db.dispose())
    assert status is not None
    deadline = time.monotonic() + 15
    while True:
        text = httpx.get(f"{server.base_url}/metrics", timeout=30).text
        if _value(text, "db_pool_max_connections") == 2 * status.max_connections:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.5)
    assert re.search(r'^db_pool_connections\{state="idle"\} \d', text, flags=re.MULTILINE), text
    assert len(re.findall(r"^build_info\{.*\} 1\.0$", text, flags=re.MULTILINE)) == 1, text

    # A worker killed outright: uvicorn starts another; its requests stay counted, its live
    # gauges go (else the pool maximum would count three workers).
    killed = min(served_by)
    os.kill(killed, signal.SIGKILL)
    _wait_for_two_workers(server, without=killed)
    deadline = time.monotonic() + 30
    while True:
        text = httpx.get(f"{server.base_url}/metrics", timeout=30).text
        if _value(text, "db_pool_max_connections") == 2 * status.max_connections:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.5)
    assert _value(text, healthz) == sent_healthz
    assert _value(text, cards) == sent_cards


def test_every_line_is_json_with_a_utc_time(server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.secret}", "X-Request-ID": "server-test-1"}
    assert httpx.get(f"{server.base_url}/v1/charging-groups", headers=auth, timeout=30).status_code == 200
    assert httpx.get(f"{server.base_url}/v1/charging-groups", timeout=30).status_code == 401
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)

    lines = server.lines()
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(record, dict), line
        assert RFC3339_UTC.match(str(record["time"])), line
        assert {"level", "logger", "message", "pid"} <= set(record), line
    assert server.secret not in "\n".join(lines)

    records = server.records()
    messages = {str(record["message"]) for record in records if str(record["logger"]).startswith("uvicorn")}
    for expected in (
        "Started parent process",
        "Started server process",
        "Application startup complete.",
        "Shutting down",
        "Finished server process",
        "Stopping parent process",
    ):
        assert any(message.startswith(expected) for message in messages), (expected, messages)

    access = [record for record in records if record["logger"] == "app.access"]
    mine = next(record for record in access if record.get("request_id") == "server-test-1")
    assert (mine["organization_id"], mine["api_key_id"]) == (server.organization_id, server.api_key_id)
    assert (mine["route"], mine["status"]) == ("/v1/charging-groups", 200)
    anonymous = next(record for record in access if record["status"] == 401)
    assert anonymous["organization_id"] is None and anonymous["api_key_id"] is None
    assert all(record["request_id"] for record in access)
