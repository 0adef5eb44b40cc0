"""Read replicas, against a real streaming replica the tests start (tests/pg_cluster.py): reads
come from the replica, writes and authorize go to the primary, a client that sends back the
`X-Consistent-After` of its write reads it, and reads fall back to the primary when the replica
is down. The proof that a read came from the replica: its replay is paused
(pg_wal_replay_pause), so a row written since is missing there and only there."""

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.cli import migrate
from app.main import create_app
from app.settings import Settings
from tests.conftest import is_postgres
from tests.factories import (
    Org,
    add_card,
    authorize,
    create_user_group,
    make_org,
    make_site,
    ok,
    start_session,
)
from tests.pg_cluster import Cluster, start_cluster, wait_until

pytestmark = pytest.mark.skipif(not is_postgres(), reason="part of the PostgreSQL suite")

DATABASE = "ugs_replica_test"
CONSISTENT_AFTER = "X-Consistent-After"


def fetchval(url: str, statement: str, *args: Any) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> Any:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(statement, *args)
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from start_cluster()


def caught_up(cluster: Cluster) -> None:
    """Wait until the replica has replayed everything the primary has written."""
    lsn = fetchval(cluster.url(cluster.primary_port), "SELECT pg_current_wal_lsn()::text")
    replayed = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
    wait_until(lambda: bool(fetchval(cluster.url(cluster.replica_port), replayed, lsn)))


@contextmanager
def replay_paused(cluster: Cluster) -> Iterator[None]:
    """The replica stops applying the primary's changes (it keeps receiving them)."""
    replica = cluster.url(cluster.replica_port)
    caught_up(cluster)
    fetchval(replica, "SELECT pg_wal_replay_pause()")
    wait_until(lambda: fetchval(replica, "SELECT pg_get_wal_replay_pause_state()") == "paused")
    try:
        yield
    finally:
        fetchval(replica, "SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[TestClient]:
    fetchval(cluster.url(cluster.primary_port), f'CREATE DATABASE "{DATABASE}"')
    migrate(cluster.url(cluster.primary_port, DATABASE))
    caught_up(cluster)
    settings = Settings(
        database_url=cluster.url(cluster.primary_port, DATABASE),
        database_replica_url=cluster.url(cluster.replica_port, DATABASE),
        db_replica_retry_seconds=0.5,
        log_level="WARNING",
        webhook_worker_in_process=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient) -> Org:
    return make_org(client)


def group_ids(client: TestClient, org: Org, **headers: str) -> set[str]:
    page = ok(client.get("/v1/user-groups?limit=200", headers={**org.auth(), **headers}))
    return {group["id"] for group in page["items"]}


def test_a_write_answers_the_primary_wal_position(client: TestClient, org: Org, cluster: Cluster) -> None:
    response = client.post("/v1/user-groups", json={"name": "Guests"}, headers=org.auth())
    assert response.status_code == 201
    lsn = response.headers[CONSISTENT_AFTER]
    assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", lsn)
    # Written on the primary, at or before that position.
    primary = cluster.url(cluster.primary_port)
    assert fetchval(primary, "SELECT pg_current_wal_lsn() >= $1::text::pg_lsn", lsn)
    assert fetchval(primary, "SELECT pg_is_in_recovery()") is False


def test_reads_come_from_the_replica_and_a_writer_reads_its_own_writes(
    client: TestClient, org: Org, cluster: Cluster
) -> None:
    before = client.post("/v1/user-groups", json={"name": "Before"}, headers=org.auth())
    with replay_paused(cluster):
        during = client.post("/v1/user-groups", json={"name": "During"}, headers=org.auth())
        new_id, old_id = during.json()["id"], before.json()["id"]
        # Without the header: the replica, which has not applied the second write.
        assert group_ids(client, org) == {old_id}
        assert client.get(f"/v1/user-groups/{new_id}", headers=org.auth()).status_code == 404
        # With the first write's position, which the replica has replayed: still the replica.
        assert group_ids(client, org, **{CONSISTENT_AFTER: before.headers[CONSISTENT_AFTER]}) == {old_id}
        # With the second's: the primary, so the writer sees its write (page, list, history).
        mine = {CONSISTENT_AFTER: during.headers[CONSISTENT_AFTER]}
        assert group_ids(client, org, **mine) == {old_id, new_id}
        ok(client.get(f"/v1/user-groups/{new_id}", headers={**org.auth(), **mine}))
        history = ok(client.get(f"/v1/user-groups/{new_id}/history", headers={**org.auth(), **mine}))
        assert history["items"]
    caught_up(cluster)
    assert group_ids(client, org) == {old_id, new_id}


def test_a_malformed_position_is_a_422(client: TestClient, org: Org) -> None:
    response = client.get("/v1/user-groups", headers={**org.auth(), CONSISTENT_AFTER: "now"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_authorize_local_lists_and_new_keys_use_the_primary(client: TestClient, cluster: Cluster) -> None:
    with replay_paused(cluster):
        org = make_org(client)  # its keys exist on the primary only
        site = make_site(client, org, connectors=1)
        group = create_user_group(
            client, org, activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
        )
        add_card(client, org, group["id"], "04C0FFEE")
        answer = ok(authorize(client, org, "04C0FFEE", connector_id=site["connectors"][0]["id"]))
        assert (answer["status"], answer["user_group_id"]) == ("Accepted", group["id"])
        local_list = ok(
            client.get(f"/v1/charging-groups/{site['group']['id']}/local-list", headers=org.auth())
        )
        assert "04C0FFEE" in str(local_list)
        # A key the replica does not know yet is checked on the primary; the list itself is the
        # replica's, where the organization has no group yet.
        assert group_ids(client, org) == set()


def test_exports_read_the_replica(client: TestClient, org: Org, cluster: Cluster) -> None:
    group = create_user_group(client, org)
    with replay_paused(cluster):
        card = client.post(
            f"/v1/user-groups/{group['id']}/cards", json={"uid": "04E1E2E3"}, headers=org.auth()
        )
        assert card.status_code == 201
        path = f"/v1/user-groups/{group['id']}/cards/export.csv"
        assert "04E1E2E3" not in client.get(path, headers=org.auth()).text
        mine = {CONSISTENT_AFTER: card.headers[CONSISTENT_AFTER]}
        assert "04E1E2E3" in client.get(path, headers={**org.auth(), **mine}).text


def test_the_sessions_export_reads_the_replica(client: TestClient, org: Org, cluster: Cluster) -> None:
    site = make_site(client, org, connectors=1)
    group = create_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    )
    add_card(client, org, group["id"], "04E1E2E4")
    caught_up(cluster)
    with replay_paused(cluster):
        started = start_session(client, org, "04E1E2E4", site["connectors"][0]["id"], "2026-11-26T08:00:00Z")
        assert started.status_code == 201
        transaction_id = started.json()["transaction_id"]
        path = "/v1/sessions/export.csv"
        assert transaction_id not in client.get(path, headers=org.auth()).text
        mine = {CONSISTENT_AFTER: started.headers[CONSISTENT_AFTER]}
        assert transaction_id in client.get(path, headers={**org.auth(), **mine}).text


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(
    client: TestClient, org: Org, cluster: Cluster
) -> None:
    cluster.stop("replica")
    try:
        group = create_user_group(client, org)
        assert group_ids(client, org) == {group["id"]}
        assert (
            client.get(f"/v1/user-groups/{group['id']}/cards/export.csv", headers=org.auth()).status_code
            == 200
        )
    finally:
        cluster.start("replica", cluster.replica_port)
    caught_up(cluster)
    assert group_ids(client, org) == {group["id"]}
