"""Every error the app can produce is an RFC 9457 problem document."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from app.settings import Settings
from tests.factories import Org

PROBLEM = "application/problem+json"


def assert_problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"https://problems.user-groups.example/{slug}"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body  # type: ignore[no-any-return]


def test_unknown_route_is_404(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_wrong_method_is_405(client: TestClient, org: Org) -> None:
    assert_problem(client.put("/v1/charging-groups", headers=org.auth()), 405, "method-not-allowed")


def test_wrong_content_type_is_415(client: TestClient, org: Org) -> None:
    response = client.post(
        "/v1/charging-groups",
        content=b"name=x",
        headers={**org.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_body_over_limit_is_413(client: TestClient, org: Org) -> None:
    huge = json.dumps({"name": "x" * (2 * 1024 * 1024)})
    response = client.post(
        "/v1/charging-groups",
        content=huge,
        headers={**org.auth(), "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")


def test_streamed_body_over_limit_is_413(client: TestClient, org: Org) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(
        "/v1/charging-groups",
        content=chunks(),
        headers={**org.auth(), "Content-Type": "application/json"},
    )
    assert_problem(response, 413, "payload-too-large")


def test_validation_error_names_every_field(client: TestClient, org: Org) -> None:
    response = client.post(
        "/v1/charging-groups",
        json={"name": "", "location_label": 5, "access_control": "maybe", "extra": 1},
        headers=org.auth(),
    )
    body = assert_problem(response, 422, "validation-error")
    assert {error["field"] for error in body["errors"]} == {
        "name",
        "location_label",
        "access_control",
        "extra",
    }


def test_malformed_json_is_422(client: TestClient, org: Org) -> None:
    response = client.post(
        "/v1/charging-groups",
        content=b'{"name": ',
        headers={**org.auth(), "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation-error")


def test_bad_path_id_is_422_naming_the_parameter(client: TestClient, org: Org) -> None:
    body = assert_problem(
        client.get("/v1/charging-groups/not-a-uuid", headers=org.auth()), 422, "validation-error"
    )
    assert body["errors"][0]["field"] == "charging_group_id"


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] not in ("", "bad id with spaces")


def test_unexpected_error_is_generic_500_and_logged(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-500"})
    body = assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert body["request_id"] == "req-500"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (error,) = [entry for entry in logged if entry["logger"] == "app.errors"]
    assert error["request_id"] == "req-500" and "hunter2" in error["exc_info"]
