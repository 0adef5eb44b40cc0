"""Gate 1: schema fuzzing with Schemathesis against the app's own OpenAPI document.

Every operation, a fixed number of generated requests each, derandomized (same examples every
run), with a valid key of a seeded organization. A 5xx, a response that breaks its documented
schema, a status code or content type the document does not list: each fails the test.
"""

import zlib
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.cli import OPENAPI_PATH
from app.enums import Role
from tests.factories import Org, add_card, create_user_group, make_org, make_site, ok, start_session

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> dict[str, Any]:
    """An organization with one of everything, so generated requests also hit real resources."""
    org = make_org(client)
    site = make_site(client, org, connectors=2)
    group = create_user_group(
        client,
        org,
        tariff={"currency": "EUR", "price_per_kwh": "0.30"},
        activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]},
    )
    card = add_card(client, org, group["id"], "F0220001")
    session = ok(
        start_session(client, org, "F0220001", site["connectors"][0]["id"], "2026-11-01T10:00:00Z"), 201
    )
    keys = ok(client.get("/v1/api-keys", headers=org.auth()))["items"]
    ids = {
        "user_group_id": group["id"],
        "card_id": card["id"],
        "charging_group_id": site["group"]["id"],
        "charge_point_id": site["charge_point"]["id"],
        "connector_id": site["connectors"][0]["id"],
        "session_id": session["id"],
        "api_key_id": next(k["id"] for k in keys if k["role"] == "viewer"),
    }
    return {"org": org, "ids": ids}


# The committed document (a test keeps it equal to the app's), so operations are known at collection.
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI_PATH))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_keeps_its_promises(
    operation: Any, client: TestClient, seeded: dict[str, Any]
) -> None:
    org: Org = seeded["org"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # Every other example addresses a real resource of the seeded organization.
        if case.path_parameters and zlib.crc32(repr(sorted(case.path_parameters.items())).encode()) % 2 == 0:
            for name in case.path_parameters:
                if name in seeded["ids"]:
                    case.path_parameters[name] = seeded["ids"][name]
        headers = {**(case.headers or {}), **org.auth(Role.admin)}
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        if not kwargs.get("cookies"):
            kwargs.pop("cookies", None)
        if kwargs.get("files"):
            # Generated extra form fields may be numbers; a multipart body carries them as text.
            kwargs["files"] = [
                (name, (filename, content if isinstance(content, str | bytes) else str(content)))
                for name, (filename, content) in kwargs["files"]
            ]
        response = client.request(**kwargs)
        response.request.read()  # multipart bodies stream; the checks read the request again
        case.validate_response(response, checks=CHECKS)

    check()
