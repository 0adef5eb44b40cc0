"""Retry safety and optimistic concurrency under concurrency, expiry, and secrets (the route class,
app/routers/route.py; the per-route gate is tests/gates/test_conditional_requests.py)."""

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.db import Database, UnitOfWork
from app.housekeeping import purge_idempotency_records
from app.main import create_app
from app.models import IdempotencyRecord
from app.models.base import utcnow
from app.settings import Settings
from tests.conftest import is_postgres
from tests.factories import Org, create_user_group, ok


def _concurrently(client: TestClient, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    """The requests at once, through the real app and its connection pool (parallel transactions)."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as http:
            calls = [http.request(method, url, **kwargs) for method, url, kwargs in requests]
            return list(await asyncio.gather(*calls))

    assert client.portal is not None
    return client.portal.call(run)


def _records(client: TestClient, org: Org) -> list[IdempotencyRecord]:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def read() -> list[IdempotencyRecord]:
        async with UnitOfWork(db) as session:
            statement = select(IdempotencyRecord).where(IdempotencyRecord.organization_id == org.id)
            return list((await session.execute(statement)).scalars())

    assert client.portal is not None
    return client.portal.call(read)


def _expire_all(client: TestClient, org: Org) -> None:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def expire() -> None:
        async with UnitOfWork(db) as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.organization_id == org.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    assert client.portal is not None
    client.portal.call(expire)


def test_concurrent_duplicates_create_once_and_replay(client: TestClient, org: Org) -> None:
    body = {"name": f"Concurrent {uuid.uuid4().hex[:8]}"}
    headers = {**org.auth(), "Idempotency-Key": str(uuid.uuid4())}
    responses = _concurrently(client, *[("POST", "/v1/user-groups", {"json": body, "headers": headers})] * 6)
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert (
        sorted(r.headers.get("idempotent-replayed", "false") for r in responses) == ["false"] + ["true"] * 5
    )
    groups = ok(client.get("/v1/user-groups", params={"q": body["name"]}, headers=org.auth()))["items"]
    assert len(groups) == 1


def test_concurrent_changes_with_one_if_match_let_exactly_one_through(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    url = f"/v1/user-groups/{group['id']}"
    etag = client.get(url, headers=org.auth()).headers["etag"]
    requests = [
        (
            "PATCH",
            url,
            {
                "json": {"name": f"Name {n} {uuid.uuid4().hex[:6]}"},
                "headers": {**org.auth(), "If-Match": etag},
            },
        )
        for n in range(6)
    ]
    statuses = sorted(r.status_code for r in _concurrently(client, *requests))
    assert statuses == [200] + [412] * 5
    history = ok(client.get(f"{url}/history", headers=org.auth()))["items"]
    assert [event["action"] for event in history].count("user_group.renamed") == 1


def test_an_expired_key_is_free_again_and_purged(client: TestClient, org: Org) -> None:
    headers = {**org.auth(), "Idempotency-Key": str(uuid.uuid4())}
    first = ok(
        client.post("/v1/user-groups", json={"name": f"E {uuid.uuid4().hex[:6]}"}, headers=headers), 201
    )
    _expire_all(client, org)
    again = client.post("/v1/user-groups", json={"name": f"F {uuid.uuid4().hex[:6]}"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first["id"]
    _expire_all(client, org)
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    assert client.portal is not None
    assert client.portal.call(purge_idempotency_records, db) >= 1
    assert _records(client, org) == []


def test_expired_records_are_purged_without_a_manual_step(settings: Settings) -> None:
    quick = settings.model_copy(update={"idempotency_purge_interval_seconds": 0.2})
    with TestClient(create_app(quick), raise_server_exceptions=False) as client:
        from tests.factories import make_org

        org = make_org(client)
        headers = {**org.auth(), "Idempotency-Key": str(uuid.uuid4())}
        ok(client.post("/v1/user-groups", json={"name": f"P {uuid.uuid4().hex[:6]}"}, headers=headers), 201)
        assert len(_records(client, org)) == 1
        _expire_all(client, org)
        deadline = time.monotonic() + 10
        while _records(client, org) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _records(client, org) == []


def test_a_replayed_key_creation_withholds_the_secret_and_stores_none(client: TestClient, org: Org) -> None:
    headers = {**org.auth(), "Idempotency-Key": str(uuid.uuid4())}
    first = ok(
        client.post("/v1/api-keys", json={"name": "CPMS", "role": "integration"}, headers=headers), 201
    )
    secret = first["key"]
    assert secret.startswith("ugs_")
    replay = client.post("/v1/api-keys", json={"name": "CPMS", "role": "integration"}, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == {**first, "key": None}
    stored = _records(client, org)
    assert len(stored) == 1 and stored[0].response_body is not None
    assert secret not in repr(stored[0].response_body) and secret not in repr(stored[0].response_headers)
    assert stored[0].response_body["key"] is None
    # The secret itself still works: it was returned once.
    assert client.get("/v1/sessions", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_a_failed_request_leaves_the_key_free(client: TestClient, org: Org) -> None:
    headers = {**org.auth(), "Idempotency-Key": str(uuid.uuid4())}
    name = f"Dup {uuid.uuid4().hex[:6]}"
    create_user_group(client, org, name=name)
    assert client.post("/v1/user-groups", json={"name": name}, headers=headers).status_code == 409
    assert _records(client, org) == []  # the claim rolled back with the refused change
    assert client.post("/v1/user-groups", json={"name": f"{name} 2"}, headers=headers).status_code == 201


@pytest.mark.skipif(not is_postgres(), reason="SQLite serializes writers; a held key just waits")
def test_a_duplicate_waits_at_most_the_bound_then_gets_idempotency_in_progress(
    settings: Settings, database_url: str
) -> None:
    """A first request still running (its transaction holds the claim) makes a duplicate wait for
    IDEMPOTENCY_WAIT_SECONDS, then answer 409 `idempotency-in-progress` with Retry-After."""
    import asyncpg  # type: ignore[import-untyped]

    quick = settings.model_copy(update={"idempotency_wait_seconds": 0.5})
    with TestClient(create_app(quick), raise_server_exceptions=False) as client:
        from tests.factories import make_org

        org = make_org(client)
        key = str(uuid.uuid4())
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")

        async def hold_then_request() -> httpx.Response:
            connection = await asyncpg.connect(dsn)
            transaction = connection.transaction()
            await transaction.start()
            await connection.execute(
                "INSERT INTO idempotency_records (id, organization_id, key, request_fingerprint, created_at, "
                "expires_at) VALUES ($1, $2, $3, 'x', now(), now() + interval '1 hour')",
                uuid.uuid4(),
                org.id,
                key,
            )
            try:
                transport = httpx.ASGITransport(app=client.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                    started = time.monotonic()
                    response = await http.post(
                        "/v1/user-groups",
                        json={"name": "Held"},
                        headers={**org.auth(), "Idempotency-Key": key},
                    )
                    assert time.monotonic() - started < 5
                    return response
            finally:
                await transaction.rollback()
                await connection.close()

        assert client.portal is not None
        response = client.portal.call(hold_then_request)
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("/idempotency-in-progress")
        assert response.headers["retry-after"] == "1"
        # Once the holder is gone, the key is free.
        retry = client.post(
            "/v1/user-groups", json={"name": "Held"}, headers={**org.auth(), "Idempotency-Key": key}
        )
        assert retry.status_code == 201, retry.text
