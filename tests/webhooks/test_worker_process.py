"""`ugs worker` as its own process: killed with SIGKILL in the middle of a batch, nothing is lost
(a new worker sends the leased deliveries when the lease ends); several workers at once never
send one event twice at the same time."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from app.cli import ROOT
from app.settings import Settings
from tests.factories import Org, create_user_group, ok, subscribe
from tests.webhooks.receiver import running_receiver


@contextmanager
def worker(settings: Settings, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_POLL_INTERVAL_SECONDS": "0.05",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=environment, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def all_deliveries(client: TestClient, org: Org, endpoint_id: str) -> list[Any]:
    url = f"/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=200"
    return ok(client.get(url, headers=org.auth()))["items"]  # type: ignore[no-any-return]


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_nothing(client: TestClient, org: Org, settings: Settings) -> None:
    events = 12
    with running_receiver(delay_seconds=1.0) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        for _ in range(events):
            create_user_group(client, org)
        lease = {"WEBHOOK_LEASE_SECONDS": "3", "WEBHOOK_TIMEOUT_SECONDS": "2"}
        with worker(settings, **lease) as first:
            wait_until(lambda: receiver.in_flight and any(receiver.in_flight.values()), 30)
            first.send_signal(signal.SIGKILL)  # the batch is on its way: leased, not answered
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert any(d["status"] == "pending" for d in all_deliveries(client, org, endpoint["id"]))
        receiver.delay_seconds = 0.0
        with worker(settings, **lease):
            wait_until(
                lambda: {d["status"] for d in all_deliveries(client, org, endpoint["id"])} == {"succeeded"},
                60,
            )
    log = all_deliveries(client, org, endpoint["id"])
    assert len(log) == events
    assert {d["event_id"] for d in log} <= set(receiver.ids()), "every event reached the receiver"


def test_several_workers_never_send_one_event_twice_at_once(
    client: TestClient, org: Org, settings: Settings
) -> None:
    events = 40
    with running_receiver(delay_seconds=0.05) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        with worker(settings, WEBHOOK_BATCH_SIZE="5"), worker(settings, WEBHOOK_BATCH_SIZE="5"):
            for _ in range(events):
                create_user_group(client, org)
            wait_until(lambda: len(receiver.ids()) >= events, 60)
            time.sleep(0.5)
    assert receiver.overlaps == []
    assert len(receiver.ids()) == events and len(set(receiver.ids())) == events, "each once"
    assert {d["status"] for d in all_deliveries(client, org, endpoint["id"])} == {"succeeded"}
