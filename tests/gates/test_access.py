"""Gate 2: authentication, roles and tenant isolation, for every /v1 operation of the route table.

The role rules are SPEC section 8, written here independently of the code: admin everything,
operator manages, viewer reads, integration does authorization, sessions and infrastructure sync,
reads cards and user groups, and reads the change feed and manages its webhooks (with admin).
A route added later must match one of these rules (or the test says it has none).
"""

import uuid
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.cli import OPENAPI_PATH
from app.enums import Role
from tests.factories import Org
from tests.gates.conftest import OPERATIONS, Operation, build_world, organization_state

ALL = {Role.admin, Role.operator, Role.viewer, Role.integration}
MANAGE = {Role.admin, Role.operator}
READ = {Role.admin, Role.operator, Role.viewer}
BACKEND = {Role.admin, Role.integration}
INFRASTRUCTURE_WRITE = {Role.admin, Role.operator, Role.integration}


def allowed_roles(operation: Operation) -> set[Role]:
    path, write = operation.path, operation.is_write
    if path.startswith("/v1/api-keys"):
        return {Role.admin}
    if path == "/v1/organization":  # its settings: everyone reads them, the admin changes them
        return {Role.admin} if write else ALL
    if path == "/v1/authorize/explain":  # "why not?": the dashboard's question, changes nothing
        return READ
    if path == "/v1/authorize" or (path.startswith("/v1/sessions") and write):
        return BACKEND
    if path.startswith("/v1/sessions"):
        return ALL
    if path.endswith("/local-list"):  # what the chargers of a charging group are sent: read by all
        return ALL
    if path.startswith(("/v1/charging-groups", "/v1/charge-points", "/v1/connectors")):
        return INFRASTRUCTURE_WRITE if write else ALL
    if path.startswith(("/v1/user-groups", "/v1/cards")):
        return MANAGE if write else ALL
    if path.startswith("/v1/audit-events"):
        return READ
    if path.startswith("/v1/unknown-cards"):  # the desk's list: people, not the integrations
        return MANAGE if write else READ
    if path.startswith(("/v1/events", "/v1/webhook-endpoints")):
        return BACKEND
    raise AssertionError(f"no role rule for {operation}: add it to SPEC section 8 and to this test")


def call(
    client: TestClient, operation: Operation, ids: dict[str, str], headers: dict[str, str], **kwargs: Any
) -> Any:
    return client.request(operation.method, operation.url(ids), headers=headers, **kwargs)


RANDOM_IDS = {name: str(uuid.uuid4()) for op in OPERATIONS for name in op.path_parameters}


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_every_operation_needs_a_key(client: TestClient, operation: Operation) -> None:
    for headers in ({}, {"Authorization": "Bearer ugs_000000000000_wrong"}):
        response = call(client, operation, RANDOM_IDS, headers, json={})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_roles(client: TestClient, org: Org, operation: Operation) -> None:
    allowed = allowed_roles(operation)
    for role in Role:
        response = call(client, operation, RANDOM_IDS, org.auth(role), json={})
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert response.json()["type"].endswith("/forbidden")


def test_viewer_cannot_write_anything(client: TestClient, org: Org) -> None:
    # Explain is a POST that changes nothing, and a viewer's question.
    writes = [op for op in OPERATIONS if op.is_write and Role.viewer not in allowed_roles(op)]
    assert writes
    for operation in writes:
        assert call(client, operation, RANDOM_IDS, org.auth(Role.viewer), json={}).status_code == 403, (
            operation
        )


SCHEMA = schemathesis.openapi.from_path(str(OPENAPI_PATH))
BY_LABEL = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}  # type: ignore[union-attr]
WITH_IDS = [op for op in OPERATIONS if op.path_parameters]


@pytest.mark.parametrize("operation", WITH_IDS, ids=str)
def test_another_organizations_resource_is_404_and_untouched(
    client: TestClient, world_org: Org, world: dict[str, str], other_org: Org, operation: Operation
) -> None:
    """Real ids of one organization, with generated bodies, sent with another organization's admin
    key: every answer is 404 (or 422 when the generated body is invalid), and nothing changes."""
    before = organization_state(client, world_org)
    statuses: list[int] = []
    schema_operation = BY_LABEL[str(operation)]

    @given(case=schema_operation.as_strategy())
    @settings(max_examples=15, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def attempt(case: Any) -> None:
        for name in operation.path_parameters:
            case.path_parameters[name] = world[name]
        if isinstance(case.body, dict) and "currency" in case.body:
            case.body["currency"] = "EUR"  # random three letters are rarely an ISO 4217 code
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=other_org.auth())
        kwargs.pop("cookies", None)
        if kwargs.get("files"):
            kwargs["files"] = [
                (n, (f, c if isinstance(c, str | bytes) else str(c))) for n, (f, c) in kwargs["files"]
            ]
        response = client.request(**kwargs)
        statuses.append(response.status_code)
        assert response.status_code in (404, 422), response.text

    attempt()
    assert 404 in statuses, f"no generated request got past validation: {sorted(set(statuses))}"
    assert organization_state(client, world_org) == before


def test_the_world_fixture_covers_every_path_parameter(client: TestClient, other_org: Org) -> None:
    ids = build_world(client, other_org)
    assert {name for op in WITH_IDS for name in op.path_parameters} <= set(ids)
