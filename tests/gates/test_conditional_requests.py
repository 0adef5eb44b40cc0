"""Gate: optimistic concurrency and retry safety, for every operation of the route table.

* every JSON GET answers a strong ETag and 304 to a matching If-None-Match;
* every change refuses a stale or weak If-Match with 412 and changes nothing, and succeeds with the
  current ETag of its target (the path, or the nearest enclosing path with a GET);
* a write response that carries an ETag carries the one a GET of the resource answers;
* every POST that changes something, sent twice with one Idempotency-Key, changes the organization
  once and answers the second time with the first response (`Idempotent-Replayed: true`); the
  same key with another body is a 409;
* an operation declared side-effect free changes nothing.

The requests come from the audit gate's scenarios (one per write, required for every write), so a
route added later is covered here as soon as it exists.
"""

import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.routers.route import is_side_effect_free
from tests.factories import Org, ok
from tests.gates.conftest import OPERATIONS, Operation, organization_state
from tests.gates.test_audit_completeness import SCENARIOS, _send

GETS = [op for op in OPERATIONS if op.method == "GET"]
GET_PATHS = {op.path for op in GETS}


def _side_effect_free_names(client: TestClient) -> set[str]:
    return {
        context.original_route.name
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute)
        and is_side_effect_free(context.original_route.endpoint)
    }


SIDE_EFFECT_FREE = {
    "authorize_card",
    "explain_authorization",
    "preview_activation_change",
    "preview_user_group",
}
CHANGES = [op for op in OPERATIONS if op.is_write and op.name not in SIDE_EFFECT_FREE]
CHANGING_POSTS = [op for op in CHANGES if op.method == "POST"]


def test_the_side_effect_free_operations_are_the_declared_ones(client: TestClient) -> None:
    assert _side_effect_free_names(client) == SIDE_EFFECT_FREE


def target_template(operation: Operation) -> str:
    """The path itself, or the nearest enclosing path template that has a GET."""
    parts = operation.path.split("/")
    while parts:
        path = "/".join(parts)
        if path in GET_PATHS:
            return path
        parts.pop()
    raise AssertionError(f"{operation} has no enclosing resource with a GET")


def target_url(operation: Operation, ids: dict[str, str]) -> str:
    url = target_template(operation)
    for name, value in ids.items():
        url = url.replace("{" + name + "}", value)
    return url


def _get(client: TestClient, org: Org, url: str, **headers: str) -> Any:
    return client.get(url, headers={**org.auth(), **headers})


@pytest.mark.parametrize("operation", GETS, ids=str)
def test_every_get_has_a_strong_etag_and_answers_304(
    client: TestClient, world_org: Org, world: dict[str, str], operation: Operation
) -> None:
    url = operation.url(world)
    first = _get(client, world_org, url)
    assert first.status_code == 200, first.text
    if first.headers["content-type"].startswith("text/csv"):
        return  # a stream (the CSV export), not a resource with one body
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    assert _get(client, world_org, url).headers["etag"] == etag, "the same representation, another ETag"
    for matching in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = _get(client, world_org, url, **{"If-None-Match": matching})
        assert not_modified.status_code == 304, (matching, not_modified.status_code)
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag
    assert _get(client, world_org, url, **{"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("operation", CHANGES, ids=str)
def test_every_change_refuses_a_stale_if_match_and_accepts_the_current_one(
    client: TestClient, world_org: Org, world: dict[str, str], operation: Operation
) -> None:
    request = SCENARIOS[operation.name][0](client, world_org, world)
    ids = {**world, **request.get("ids", {})}
    target = target_url(operation, ids)
    current = _get(client, world_org, target)
    assert current.status_code == 200, current.text
    before = organization_state(client, world_org)
    for stale in ('"0123456789abcdef"', f"W/{current.headers['etag']}"):
        refused = _send(
            client, world_org, operation, request, f"stale-{uuid.uuid4().hex}", {"If-Match": stale}
        )
        assert refused.status_code == 412, (stale, refused.status_code, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/precondition-failed")
        assert organization_state(client, world_org) == before, "a refused change changed something"
    etag = _get(client, world_org, target).headers["etag"]
    done = _send(client, world_org, operation, request, f"fresh-{uuid.uuid4().hex}", {"If-Match": etag})
    assert 200 <= done.status_code < 300, done.text
    if "etag" in done.headers:
        resource = done.headers.get("location") or target
        assert _get(client, world_org, resource).headers["etag"] == done.headers["etag"], (
            "the ETag of a write response is not the one a GET of the resource answers"
        )


@pytest.mark.parametrize("operation", CHANGING_POSTS, ids=str)
def test_every_changing_post_is_retry_safe(
    client: TestClient, world_org: Org, world: dict[str, str], operation: Operation
) -> None:
    request = SCENARIOS[operation.name][0](client, world_org, world)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = _send(client, world_org, operation, request, f"first-{uuid.uuid4().hex}", key)
    assert 200 <= first.status_code < 300, first.text
    after_first = organization_state(client, world_org)
    retry = _send(client, world_org, operation, request, f"retry-{uuid.uuid4().hex}", key)
    assert retry.status_code == first.status_code, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers.get("location") == first.headers.get("location")
    assert retry.headers.get("etag") == first.headers.get("etag")
    assert retry.json() == {**first.json(), **_withheld(first.json())}
    assert organization_state(client, world_org) == after_first, "the retry changed something"

    other = SCENARIOS[operation.name][0](client, world_org, world)  # the scenarios draw fresh values
    other = {**request, "json": other.get("json"), "files": other.get("files")}
    if (other["json"], other["files"]) != (request.get("json"), request.get("files")):
        reused = _send(client, world_org, operation, other, f"reused-{uuid.uuid4().hex}", key)
        assert reused.status_code == 409, reused.text
        assert reused.json()["type"].endswith("/idempotency-key-reused")


def _withheld(body: dict[str, Any]) -> dict[str, Any]:
    """Fields never stored for a replay: the secret of a new API key or webhook endpoint."""
    if "key" in body and "prefix" in body:
        return {"key": None}
    return {"secret": None} if "secret" in body and "url" in body else {}


@pytest.mark.parametrize("name", sorted(SIDE_EFFECT_FREE))
def test_side_effect_free_operations_change_nothing(
    client: TestClient, world_org: Org, world: dict[str, str], name: str
) -> None:
    operation = next(op for op in OPERATIONS if op.name == name)
    request = SCENARIOS[name][0](client, world_org, world)
    before = organization_state(client, world_org)
    for _ in range(2):
        response = _send(client, world_org, operation, request, f"free-{uuid.uuid4().hex}", {})
        assert response.status_code < 500, response.text
    assert organization_state(client, world_org) == before


def test_put_without_if_match_is_last_write_wins(client: TestClient, org: Org) -> None:
    """Documented: If-Match is optional; a client that sends none accepts to overwrite."""
    group = ok(
        client.post("/v1/user-groups", json={"name": f"G {uuid.uuid4().hex[:6]}"}, headers=org.auth()), 201
    )
    url = f"/v1/user-groups/{group['id']}"
    ok(client.patch(url, json={"name": f"A {uuid.uuid4().hex[:6]}"}, headers=org.auth()))
    ok(client.patch(url, json={"name": f"B {uuid.uuid4().hex[:6]}"}, headers=org.auth()))
