"""Gate 6: abusive input gets a clear 4xx problem, and nothing is stored."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org, create_user_group, ok
from tests.gates.conftest import organization_state

JSON = {"Content-Type": "application/json"}


def assert_refused(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].startswith("https://problems.user-groups.example/")
    assert "Traceback" not in response.text
    return body


@pytest.fixture
def group(client: TestClient, org: Org) -> dict[str, Any]:
    return create_user_group(client, org)


def raw_bodies() -> Iterator[tuple[str, bytes, dict[str, str], tuple[int, ...]]]:
    yield "deeply nested arrays", b"[" * 100_000 + b"]" * 100_000, JSON, (400, 422)
    yield (
        "deeply nested in a field",
        b'{"name": ' + b'{"a":' * 5_000 + b"1" + b"}" * 5_000 + b"}",
        JSON,
        (400, 422),
    )
    yield "invalid UTF-8", b'{"name": "\xff\xfe\xfd"}', JSON, (400, 422)
    yield "truncated JSON", b'{"name": "abc', JSON, (400, 422)
    yield "JSON scalar", b'"just a string"', JSON, (422,)
    yield "NUL in a name", b'{"name": "a\\u0000b"}', JSON, (422,)
    yield "lone surrogate", b'{"name": "\\ud800"}', JSON, (422,)
    yield "control characters", b'{"name": "bell\\u0007 tab\\t"}', JSON, (422,)
    yield "zero-width and bidi controls", '{"name": "evil\u202e\u200bname"}'.encode(), JSON, (422,)
    yield "name far too long", json.dumps({"name": "x" * 100_000}).encode(), JSON, (422,)
    yield "a key twice (one would be dropped)", b'{"name": "a", "name": "b"}', JSON, (422,)
    yield (
        "a key twice, nested",
        b'{"name": "a", "tariff": {"currency": "EUR", "currency": "USD"}}',
        JSON,
        (422,),
    )
    yield "unknown field", b'{"name": "a", "nmae": "b"}', JSON, (422,)
    yield "form encoded", b"name=abc", {"Content-Type": "application/x-www-form-urlencoded"}, (415,)
    yield "XML", b"<name>abc</name>", {"Content-Type": "application/xml"}, (415,)
    yield "no content type", b'{"name": "abc"}', {"Content-Type": ""}, (415, 422)
    yield "over the body limit", b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}', JSON, (413,)


@pytest.mark.parametrize(
    ("label", "body", "headers", "statuses"), list(raw_bodies()), ids=[b[0] for b in raw_bodies()]
)
def test_abusive_bodies_are_refused_and_nothing_is_stored(
    client: TestClient, org: Org, label: str, body: bytes, headers: dict[str, str], statuses: tuple[int, ...]
) -> None:
    before = organization_state(client, org)
    response = client.post("/v1/user-groups", content=body, headers={**org.auth(), **headers})
    assert_refused(response, *statuses)
    assert organization_state(client, org) == before


@pytest.mark.parametrize(
    "uid",
    ["", "x" * 37, "04A2\u0000", "04;DROP", "ÄÖÜ", "04A2\n", "' OR 1=1 --", "🔑🔑"],
    ids=["empty", "37 chars", "NUL", "semicolon", "umlauts", "newline", "SQL", "emoji"],
)
def test_bad_card_uids_are_refused(client: TestClient, org: Org, group: dict[str, Any], uid: str) -> None:
    before = organization_state(client, org)
    response = client.post(f"/v1/user-groups/{group['id']}/cards", json={"uid": uid}, headers=org.auth())
    body = assert_refused(response, 422)
    assert body["errors"][0]["field"] == "uid"
    assert organization_state(client, org) == before


def test_sql_looking_and_unicode_names_are_just_text(client: TestClient, org: Org) -> None:
    for name in ("Robert'); DROP TABLE user_groups;--", "Gäste 🚗⚡ - Ελληνικά / العربية", "%_\\ wildcard"):
        created = ok(client.post("/v1/user-groups", json={"name": name}, headers=org.auth()), 201)
        assert created["name"] == name
        found = ok(client.get("/v1/user-groups", params={"q": name[:6]}, headers=org.auth()))["items"]
        assert [g["name"] for g in found] == [name]
    assert ok(client.get("/v1/user-groups", params={"q": "%"}, headers=org.auth()))["items"][0][
        "name"
    ].startswith("%")


def csv_files() -> Iterator[tuple[str, bytes, int]]:
    yield "not UTF-8", b"uid,label\n04A2,\xff\xfe\n", 422
    yield "binary with NUL", b"uid\n\x00\x01\x02\x03", 422
    yield "no header", b"04A2B3\n04A2B4\n", 422
    yield "unknown column", b"uid,password\n04A2,secret\n", 422
    yield "unterminated quote", b'uid,label\n04A2,"open quote\n', 422
    yield "empty", b"", 422
    yield "too many rows", b"uid\n" + b"".join(b"%08X\n" % n for n in range(10_001)), 422
    yield "bigger than the body limit", b"uid,label\n" + b"04A2,xxxxxxxx\n" * 90_000, 413


@pytest.mark.parametrize(("label", "content", "status"), list(csv_files()), ids=[f[0] for f in csv_files()])
def test_bad_csv_uploads_are_refused_and_nothing_is_stored(
    client: TestClient, org: Org, group: dict[str, Any], label: str, content: bytes, status: int
) -> None:
    before = organization_state(client, org)
    response = client.post(
        f"/v1/user-groups/{group['id']}/cards/import",
        files={"file": ("cards.csv", content, "text/csv")},
        headers=org.auth(),
    )
    assert_refused(response, status)
    assert organization_state(client, org) == before


def test_huge_query_values_are_refused(client: TestClient, org: Org) -> None:
    assert_refused(client.get("/v1/user-groups", params={"q": "x" * 10_000}, headers=org.auth()), 422)
    assert_refused(client.get("/v1/cards", params={"cursor": "A" * 10_000}, headers=org.auth()), 422)
    assert_refused(client.get("/v1/user-groups", params={"limit": 10**12}, headers=org.auth()), 422)
