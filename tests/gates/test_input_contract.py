"""Gate 7: bad input is a 422 problem naming the parameter, on every operation it can reach.

The cases are derived from the app's own OpenAPI document and route table, so a route added later
is covered without editing this file:

- every date-time query parameter gets a time without offset, one that overflows in UTC, times out
  of range, and numbers;
- every JSON body field of format date-time (found by walking the request schema, through `$ref`,
  `anyOf` and arrays) gets the same, and a JSON number;
- every operation with a `cursor` gets forged cursors: random base64, base64 of garbage JSON, the
  cursor format of older releases, a real cursor truncated, and a real cursor whose time or id was
  edited;
- every operation gets an unknown query parameter, and each single-valued query parameter twice.

Each request goes to the real server (uvicorn) over one HTTP/1.1 connection, and the next request
on that same connection must be served: a refused input never costs the client its keep-alive
connection (a 500 from an unhandled error does).
"""

import base64
import http.client
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.pagination import encode_cursor
from app.settings import Settings
from tests.factories import Org, make_org, ok
from tests.gates.conftest import OPERATIONS, Operation, build_world, organization_state

PROBLEM = "application/problem+json"


def openapi_document() -> dict[str, Any]:
    """The live document (the committed one is compared with it by tests/test_openapi.py)."""
    document: dict[str, Any] = create_app(Settings(database_url="sqlite+aiosqlite://")).openapi()
    return document


DOCUMENT = openapi_document()


def operation_spec(operation: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = DOCUMENT["paths"][operation.path][operation.method.lower()]
    return spec


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, section, name = schema["$ref"].split("/")
        schema = DOCUMENT["components"][section][name]
    return schema


def is_date_time(schema: dict[str, Any]) -> bool:
    schema = resolve(schema)
    return schema.get("format") == "date-time" or any(
        is_date_time(option) for option in schema.get("anyOf", []) + schema.get("oneOf", [])
    )


def query_parameters(operation: Operation) -> list[dict[str, Any]]:
    parameters = (resolve(p) for p in operation_spec(operation).get("parameters", []))
    return [p for p in parameters if p["in"] == "query"]


def date_time_paths(
    schema: dict[str, Any], path: tuple[str | int, ...] = (), depth: int = 0
) -> Iterator[tuple[str | int, ...]]:
    """Every place in a request body schema that holds a date-time."""
    if depth > 8:
        return
    schema = resolve(schema)
    if path and is_date_time(schema):
        yield path
        return
    for name, sub in schema.get("properties", {}).items():
        yield from date_time_paths(sub, (*path, name), depth + 1)
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from date_time_paths(option, path, depth + 1)
    if "items" in schema:
        yield from date_time_paths(schema["items"], (*path, 0), depth + 1)


def body_holding(path: tuple[str | int, ...], value: Any) -> Any:
    """A JSON body with only `value`, at `path`."""
    for part in reversed(path):
        value = [value] if isinstance(part, int) else {part: value}
    return value


DATE_TIME_QUERY = [
    (operation, parameter["name"])
    for operation in OPERATIONS
    for parameter in query_parameters(operation)
    if is_date_time(parameter["schema"])
]
DATE_TIME_BODY = [
    (operation, path)
    for operation in OPERATIONS
    for content in [operation_spec(operation).get("requestBody", {}).get("content", {})]
    if "application/json" in content
    for path in sorted(set(date_time_paths(content["application/json"]["schema"])), key=str)
]
CURSOR_OPERATIONS = [
    operation
    for operation in OPERATIONS
    if any(parameter["name"] == "cursor" for parameter in query_parameters(operation))
]
SINGLE_VALUED_QUERY = [
    (operation, parameter["name"])
    for operation in OPERATIONS
    for parameter in query_parameters(operation)
    if resolve(parameter["schema"]).get("type") != "array"
    and not any(resolve(o).get("type") == "array" for o in parameter["schema"].get("anyOf", []))
]

BAD_DATE_TIMES = {
    "no offset": "2026-11-01T00:00:00",
    "date only": "2026-11-01",
    "overflows in UTC": "0001-01-01T00:30:00+01:00",
    "overflows in UTC at the top": "9999-12-31T23:59:59-01:00",
    "before 1970": "1969-12-31T23:59:59Z",
    "unix seconds as text": "1700000000",
    "offset plus sent unencoded (a space)": "2026-11-01T00:00:00 01:00",
}
BAD_BODY_DATE_TIMES: dict[str, Any] = {
    **{label: value for label, value in BAD_DATE_TIMES.items() if "unencoded" not in label},
    "a number": 1700000000,
    "a fractional number": 1700000000.5,
    "a boolean": True,
}


def test_the_gate_found_the_inputs_it_is_about() -> None:
    """The derivation works (a renamed OpenAPI shape would otherwise make every list empty)."""
    assert {(str(op), name) for op, name in DATE_TIME_QUERY} >= {
        ("GET /v1/audit-events", "since"),
        ("GET /v1/sessions", "started_from"),
        ("GET /v1/sessions/export.csv", "started_until"),
    }
    assert {(str(op), path) for op, path in DATE_TIME_BODY} >= {
        ("POST /v1/sessions", ("started_at",)),
        ("POST /v1/sessions/{session_id}/stop", ("stopped_at",)),
        ("PATCH /v1/cards/{card_id}", ("valid_until",)),
        ("POST /v1/user-groups/{user_group_id}/cards/bulk", ("cards", 0, "valid_from")),
    }
    assert len(CURSOR_OPERATIONS) >= 10
    assert len(SINGLE_VALUED_QUERY) > len(CURSOR_OPERATIONS)


# The real server, one connection per case ------------------------------------------------------------


@pytest.fixture(scope="module")
def gate_org(client: TestClient) -> Org:
    return make_org(client)


@pytest.fixture(scope="module")
def ids(client: TestClient, gate_org: Org) -> dict[str, str]:
    return build_world(client, gate_org)


@pytest.fixture(scope="module")
def real_cursor(client: TestClient, gate_org: Org) -> str:
    """A cursor the API itself issued (the organization has several API keys)."""
    cursor: str = ok(client.get("/v1/api-keys?limit=1", headers=gate_org.auth()))["next_cursor"]
    assert cursor
    return cursor


def connection_feed_cursor(connection: "Connection") -> str:
    status, _, body = connection.request("GET", "/v1/events?limit=1")
    assert status == 200, body
    cursor: str = body["next_cursor"]
    return cursor


class Connection:
    """One keep-alive HTTP/1.1 connection to the real server."""

    def __init__(self, base_url: str, org: Org) -> None:
        parts = urlsplit(base_url)
        self.http = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self.auth = org.auth()

    def request(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        headers = {**self.auth, "Connection": "keep-alive"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.http.request(method, url, body=data, headers=headers)
        response = self.http.getresponse()
        raw = response.read()
        lowered = {name.lower(): value for name, value in response.getheaders()}
        parsed = json.loads(raw) if lowered.get("content-type", "").endswith("json") else raw
        return response.status, lowered, parsed

    def refuses(self, method: str, url: str, body: Any = None) -> list[dict[str, Any]]:
        """Sends the bad request; asserts a 422 problem and that the connection serves the next
        request. Returns the problem's field errors."""
        status, headers, problem = self.request(method, url, body)
        assert status == 422, (method, url, status, problem)
        assert headers["content-type"] == PROBLEM
        assert problem["type"].endswith("/validation-error") or problem["type"].endswith("/cards-rejected")
        socket_before = self.http.sock
        assert socket_before is not None, "the server closed the connection after refusing the input"
        follow_up, _, _ = self.request("GET", "/v1/user-groups?limit=1")
        assert follow_up == 200
        assert self.http.sock is socket_before, "the next request needed a new connection"
        errors: list[dict[str, Any]] = problem["errors"]
        return errors

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def connection(server: str, gate_org: Org) -> Iterator[Connection]:
    opened = Connection(server, gate_org)
    yield opened
    opened.close()


def names(errors: list[dict[str, Any]]) -> list[list[Any]]:
    return [error["loc"] for error in errors]


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.mark.parametrize(("operation", "parameter"), DATE_TIME_QUERY, ids=lambda v: str(v))
@pytest.mark.parametrize("label", list(BAD_DATE_TIMES))
def test_date_time_query_parameters_refuse_bad_times(
    connection: Connection, ids: dict[str, str], operation: Operation, parameter: str, label: str
) -> None:
    value = BAD_DATE_TIMES[label]
    url = with_query(operation.url(ids), f"{parameter}={quote(value, safe=':')}")
    errors = connection.refuses(operation.method, url)
    assert ["query", parameter] in names(errors)


@pytest.mark.parametrize(("operation", "path"), DATE_TIME_BODY, ids=lambda v: str(v))
@pytest.mark.parametrize("label", list(BAD_BODY_DATE_TIMES))
def test_date_time_body_fields_refuse_bad_times(
    client: TestClient,
    gate_org: Org,
    connection: Connection,
    ids: dict[str, str],
    operation: Operation,
    path: tuple[str | int, ...],
    label: str,
) -> None:
    before = organization_state(client, gate_org)
    errors = connection.refuses(
        operation.method, operation.url(ids), body_holding(path, BAD_BODY_DATE_TIMES[label])
    )
    assert ["body", *path] in names(errors)
    assert organization_state(client, gate_org) == before


def forged_cursors(real: str) -> dict[str, str]:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    payload, _, tag = real.partition(".")
    created_at, id_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edited_id = id_[:-1] + ("0" if id_[-1] != "0" else "1")

    def retagged(values: list[Any]) -> str:
        """Edited content under the real cursor's tag."""
        return f"{b64(json.dumps(values).encode())}.{tag}"

    return {
        "random base64": b64(os.urandom(48)),
        "random base64 with a dot": f"{b64(os.urandom(40))}.{b64(os.urandom(12))}",
        "base64 of garbage JSON": b64(b'{"created_at": [1, 2'),
        "base64 of JSON of the wrong shape": b64(json.dumps({"a": 1, "b": [2]}).encode()),
        "older releases' format, id a number": b64(json.dumps([created_at, 5]).encode()),
        "older releases' format, overflowing time": b64(
            json.dumps(["0001-01-01T00:30:00+01:00", id_]).encode()
        ),
        "real cursor, last character cut": real[:-1],
        "real cursor, half of it": real[: len(real) // 2],
        "real cursor without its tag": payload,
        "real cursor, time edited": retagged(["2020-01-01T00:00:00+00:00", id_]),
        "real cursor, time overflowing": retagged(["0001-01-01T00:30:00+01:00", id_]),
        "real cursor, id edited": retagged([created_at, edited_id]),
        "real cursor, tag edited": f"{payload}.{b64(bytes(12))}",
        "not base64 at all": "%%%not-base64%%%",
    }


FORGERIES = list(forged_cursors(encode_cursor(datetime.now(UTC), uuid.uuid4())))


@pytest.mark.parametrize("operation", CURSOR_OPERATIONS, ids=str)
@pytest.mark.parametrize("label", FORGERIES)
def test_forged_cursors_are_refused(
    connection: Connection, ids: dict[str, str], real_cursor: str, operation: Operation, label: str
) -> None:
    cursor = forged_cursors(real_cursor)[label]
    url = with_query(operation.url(ids), f"cursor={quote(cursor, safe='')}")
    errors = connection.refuses(operation.method, url)
    assert ["query", "cursor"] in names(errors)


@pytest.mark.parametrize("operation", [op for op in CURSOR_OPERATIONS if op.method == "GET"], ids=str)
def test_a_real_cursor_is_accepted(
    connection: Connection, ids: dict[str, str], real_cursor: str, operation: Operation
) -> None:
    """The control: the forgeries above are refused for what they are, not because every cursor is.
    (The change feed has cursors of its own kind: a list's cursor is a forgery there.)"""
    if operation.path == "/v1/events":
        real_cursor = connection_feed_cursor(connection)
    status, _, body = connection.request("GET", with_query(operation.url(ids), f"cursor={real_cursor}"))
    assert status == 200, body


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_unknown_query_parameters_are_refused(
    client: TestClient, gate_org: Org, connection: Connection, ids: dict[str, str], operation: Operation
) -> None:
    before = organization_state(client, gate_org) if operation.is_write else None
    errors = connection.refuses(operation.method, with_query(operation.url(ids), "filter_typo=1"))
    assert ["query", "filter_typo"] in names(errors)
    if before is not None:
        assert organization_state(client, gate_org) == before


@pytest.mark.parametrize(("operation", "parameter"), SINGLE_VALUED_QUERY, ids=lambda v: str(v))
def test_a_single_valued_query_parameter_given_twice_is_refused(
    connection: Connection, ids: dict[str, str], operation: Operation, parameter: str
) -> None:
    url = with_query(operation.url(ids), f"{parameter}=1&{parameter}=2")
    errors = connection.refuses(operation.method, url)
    assert ["query", parameter] in names(errors)
