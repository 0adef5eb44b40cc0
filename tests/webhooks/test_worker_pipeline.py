"""The worker keeps deliveries flowing: a slow receiver does not hold up the others (no round
waits for its slowest try), at most WEBHOOK_CONCURRENCY tries are on the way at once, and the
worker wakes when a change commits instead of at its next poll (in the API process by the
commit itself; a separate `ugs worker` on PostgreSQL by NOTIFY)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import is_postgres
from tests.factories import Org, create_user_group, make_org, ok
from tests.webhooks.receiver import running_receiver
from tests.webhooks.test_worker_process import wait_until, worker


@contextmanager
def in_process(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    """The app with its in-process worker running, as the embedded setup has it."""
    with TestClient(
        create_app(settings.model_copy(update={"webhook_worker_in_process": True, **changes})),
        raise_server_exceptions=False,
    ) as client:
        yield client


@pytest.fixture
def worker_client(settings: Settings) -> Iterator[TestClient]:
    with in_process(settings, webhook_poll_interval_seconds=0.05) as client:
        yield client


@pytest.fixture
def sleepy_worker_client(settings: Settings) -> Iterator[TestClient]:
    """Polls every 60 s: anything delivered sooner was woken by its commit."""
    with in_process(settings, webhook_poll_interval_seconds=60) as client:
        yield client


def subscribe(client: TestClient, org: Org, url: str) -> Any:
    response = client.post("/v1/webhook-endpoints", json={"url": url}, headers=org.auth(Role.integration))
    return ok(response, 201)


def test_a_slow_receiver_does_not_hold_up_the_others(worker_client: TestClient) -> None:
    client = worker_client
    org = make_org(client)
    with running_receiver(delay_seconds=6.0) as slow, running_receiver() as fast:
        subscribe(client, org, slow.url)
        subscribe(client, org, fast.url)
        create_user_group(client, org)
        fast.wait_for(1)
        wait_until(lambda: sum(slow.in_flight.values()) == 1, 10)  # its first try is on the way
        create_user_group(client, org)
        fast.wait_for(2, timeout=5)
        assert slow.received == [], "the second event reached the fast receiver before the slow one answered"
        slow.wait_for(2, timeout=30)


def test_at_most_the_concurrency_is_on_the_way(settings: Settings) -> None:
    events = 8
    with in_process(settings, webhook_poll_interval_seconds=0.05, webhook_concurrency=3) as client:
        org = make_org(client)
        with running_receiver(delay_seconds=0.3) as receiver:
            subscribe(client, org, receiver.url)
            for _ in range(events):
                create_user_group(client, org)
            receiver.wait_for(events, timeout=60)
        assert receiver.peak_in_flight == 3, "three at once, never more (and more than one at a time)"


def test_a_commit_wakes_the_in_process_worker(sleepy_worker_client: TestClient) -> None:
    client = sleepy_worker_client
    org = make_org(client)
    with running_receiver() as receiver:
        subscribe(client, org, receiver.url)
        time.sleep(0.3)  # the worker's first look (at start) is over: it sleeps for 60 s now
        started = time.monotonic()
        create_user_group(client, org)
        receiver.wait_for(1, timeout=10)
        assert time.monotonic() - started < 10


@pytest.mark.skipif(not is_postgres(), reason="NOTIFY is PostgreSQL's; on SQLite the API process delivers")
def test_notify_wakes_a_separate_worker(client: TestClient, org: Org, settings: Settings) -> None:
    if settings.database_pgbouncer:
        pytest.skip("PgBouncer's transaction pooling does not carry LISTEN: the worker polls there")
    with running_receiver() as receiver:
        subscribe(client, org, receiver.url)
        with worker(settings, WEBHOOK_POLL_INTERVAL_SECONDS="60"):
            create_user_group(client, org)
            receiver.wait_for(1, timeout=60)  # sent at the worker's start, or when notified
            time.sleep(1.0)  # now it waits for the next poll, 60 s away, or for a notification
            started = time.monotonic()
            create_user_group(client, org)
            receiver.wait_for(2, timeout=10)
            assert time.monotonic() - started < 10
