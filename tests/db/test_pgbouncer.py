"""Through PgBouncer in transaction pooling mode (tests/pgbouncer.py), with DATABASE_PGBOUNCER:
concurrent authorizations, reads and writes share PgBouncer's server connections, and every answer
is right. (.ci/run also runs the whole PostgreSQL suite through it.) Without the care taken in
app/db (no statement cache, unique statement names, the hot path in a transaction), a statement
prepared on one server connection is bound on another and the requests fail."""

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import is_postgres
from tests.factories import add_card, create_user_group, make_org, make_site, ok
from tests.pgbouncer import running_pgbouncer

pytestmark = pytest.mark.skipif(not is_postgres(), reason="part of the PostgreSQL suite")


@pytest.fixture(scope="module")
def bouncer_client(settings: Settings) -> Iterator[TestClient]:
    if shutil.which("pgbouncer") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer is not installed; CI must run the PgBouncer tests")
        pytest.skip("pgbouncer is not installed")
    with contextlib.ExitStack() as stack:
        url = settings.database_url
        if not settings.database_pgbouncer:  # the suite itself may already run through one
            # Fewer server connections than the app's pool: they change hands between statements.
            url = stack.enter_context(running_pgbouncer(settings.database_url, pool_size=4))
        through = settings.model_copy(
            update={
                "database_url": url,
                "database_pgbouncer": True,
                "db_pool_size": 8,
                "db_request_timeout_seconds": 30,
                "db_pool_timeout_seconds": 30,
            }
        )
        yield stack.enter_context(TestClient(create_app(through), raise_server_exceptions=False))


def test_concurrent_requests_through_pgbouncer(bouncer_client: TestClient) -> None:
    client = bouncer_client
    org = make_org(client)
    site = make_site(client, org, connectors=1)
    group = create_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    )
    uids = [f"04B0{n:04X}" for n in range(20)]
    for uid in uids:
        add_card(client, org, group["id"], uid)
    connector = site["connectors"][0]["id"]

    async def burst() -> list[tuple[str, httpx.Response]]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            calls: list[tuple[str, Any]] = []
            for n in range(60):
                uid = uids[n % len(uids)]
                body = {"id_token": uid, "connector_id": connector}
                calls.append(
                    ("authorize", http.post("/v1/authorize", json=body, headers=org.auth(Role.integration)))
                )
            for _ in range(20):
                calls.append(
                    ("list", http.get(f"/v1/user-groups/{group['id']}/cards?limit=50", headers=org.auth()))
                )
            for n in range(10):
                card = {"uid": f"04C1{n:04X}"}
                calls.append(
                    ("add", http.post(f"/v1/user-groups/{group['id']}/cards", json=card, headers=org.auth()))
                )
            responses = await asyncio.gather(*(call for _, call in calls))
            return [(kind, response) for (kind, _), response in zip(calls, responses, strict=True)]

    assert client.portal is not None
    answers = client.portal.call(burst)
    for kind, response in answers:
        assert response.status_code < 300, (kind, response.status_code, response.text)
    decisions = [response.json()["status"] for kind, response in answers if kind == "authorize"]
    assert decisions == ["Accepted"] * 60
    listed = ok(client.get(f"/v1/user-groups/{group['id']}/cards?limit=200", headers=org.auth()))
    assert len(listed["items"]) == 30
