"""Gate 3: every successful write leaves its audit record(s), written in the same transaction.

Each write operation of the route table needs a scenario below (a route added later fails here
until it has one). The scenario makes the call succeed; the test checks the records it left, under
the request's X-Request-ID. Then the same call runs with the audit writer failing right after it
added its record: the request fails, and neither the change nor any record is left.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.services import audit
from tests.factories import (
    Org,
    add_card,
    create_charge_point,
    create_charging_group,
    create_user_group,
    make_site,
    ok,
    start_session,
)
from tests.gates.conftest import OPERATIONS, Operation, organization_state, unknown_card

Request = dict[str, Any]
Scenario = tuple[Callable[[TestClient, Org, dict[str, str]], Request], list[str]]


def _fresh_group(client: TestClient, org: Org, world: dict[str, str]) -> str:
    return create_user_group(client, org)["id"]  # type: ignore[no-any-return]


def _archived_group(client: TestClient, org: Org, world: dict[str, str]) -> str:
    group_id = _fresh_group(client, org, world)
    ok(client.post(f"/v1/user-groups/{group_id}/archive", headers=org.auth()))
    return group_id


def _group_with_upcoming_tariff(client: TestClient, org: Org, world: dict[str, str]) -> str:
    group_id = _fresh_group(client, org, world)
    body = {"currency": "EUR", "price_per_kwh": "0.50", "valid_from": "2099-01-01T00:00:00Z"}
    ok(client.put(f"/v1/user-groups/{group_id}/tariff", json=body, headers=org.auth()))
    return group_id


def _group_with_rules(client: TestClient, org: Org, world: dict[str, str]) -> str:
    group_id = _fresh_group(client, org, world)
    ok(client.put(f"/v1/user-groups/{group_id}/rules", json={"max_power_kw": "11"}, headers=org.auth()))
    return group_id


def _new_key(client: TestClient, org: Org) -> str:
    response = client.post("/v1/api-keys", json={"name": "temp", "role": "viewer"}, headers=org.auth())
    return ok(response, 201)["id"]  # type: ignore[no-any-return]


def _new_endpoint(client: TestClient, org: Org) -> str:
    response = client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x"}, headers=org.auth())
    return ok(response, 201)["id"]  # type: ignore[no-any-return]


def _open_session(client: TestClient, org: Org, world: dict[str, str]) -> str:
    card = ok(client.get(f"/v1/cards/{world['card_id']}", headers=org.auth()))
    response = start_session(client, org, card["uid"], world["connector_id"], "2026-11-02T10:00:00Z")
    return ok(response, 201)["id"]  # type: ignore[no-any-return]


def _learning(client: TestClient, org: Org, world: dict[str, str]) -> dict[str, Any]:
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    return {"ends_at": ends, "charging_group_ids": [world["charging_group_id"]]}


def _learning_group(client: TestClient, org: Org, world: dict[str, str]) -> dict[str, str]:
    path = f"/v1/user-groups/{world['user_group_id']}/learning-mode"
    ok(client.put(path, json=_learning(client, org, world), headers=org.auth()))
    return world


def _uid() -> str:
    return uuid.uuid4().hex[:12].upper()


SCENARIOS: dict[str, Scenario] = {
    "create_user_group": (lambda c, o, w: {"json": {"name": f"G {_uid()}"}}, ["user_group.created"]),
    "preview_user_group": (lambda c, o, w: {"json": {"name": f"G {_uid()}"}}, []),
    "rename_user_group": (
        lambda c, o, w: {"ids": w, "json": {"name": f"R {_uid()}"}},
        ["user_group.renamed"],
    ),
    "delete_user_group": (
        lambda c, o, w: {"ids": {**w, "user_group_id": _fresh_group(c, o, w)}},
        ["user_group.deleted"],
    ),
    "archive_user_group": (lambda c, o, w: {"ids": w}, ["user_group.archived"]),
    "restore_user_group": (
        lambda c, o, w: {"ids": {**w, "user_group_id": _archived_group(c, o, w)}},
        ["user_group.restored"],
    ),
    "set_tariff": (
        lambda c, o, w: {"ids": w, "json": {"currency": "EUR", "price_per_kwh": "0.41"}},
        ["tariff.set"],
    ),
    "remove_tariff": (lambda c, o, w: {"ids": w}, ["tariff.removed"]),
    "cancel_upcoming_tariff": (
        lambda c, o, w: {"ids": {**w, "user_group_id": _group_with_upcoming_tariff(c, o, w)}},
        ["tariff.cancelled"],
    ),
    "set_rules": (
        lambda c, o, w: {"ids": w, "json": {"quota_period": "day", "card_sessions": 2}},
        ["user_group_rules.set"],
    ),
    "remove_rules": (
        lambda c, o, w: {"ids": {**w, "user_group_id": _group_with_rules(c, o, w)}},
        ["user_group_rules.removed"],
    ),
    "explain_authorization": (
        lambda c, o, w: {"json": {"id_token": "04AABBCC", "connector_id": w["connector_id"]}},
        [],
    ),
    "apply_card_action": (
        lambda c, o, w: {"ids": w, "json": {"action": "block", "card_ids": [w["card_id"]]}},
        ["cards.bulk_blocked"],
    ),
    "update_organization": (
        lambda c, o, w: {"json": {"time_zone": "Asia/Tokyo"}},
        ["organization.updated"],
    ),
    "replace_activation": (
        lambda c, o, w: {"ids": w, "json": {"scope": "custom", "charging_group_ids": []}},
        ["activation.replaced"],
    ),
    "activate_charging_group": (
        lambda c, o, w: {"ids": {**w, "charging_group_id": create_charging_group(c, o)["id"]}},
        ["activation.added", "charging_group.updated"],
    ),
    "deactivate_charging_group": (lambda c, o, w: {"ids": w}, ["activation.removed"]),
    "add_card": (lambda c, o, w: {"ids": w, "json": {"uid": _uid()}}, ["card.added"]),
    "add_cards": (
        lambda c, o, w: {"ids": w, "json": {"cards": [{"uid": _uid()}, {"uid": _uid()}]}},
        ["cards.bulk_added"],
    ),
    "import_cards": (
        lambda c, o, w: {"ids": w, "files": {"file": ("c.csv", f"uid\n{_uid()}\n".encode(), "text/csv")}},
        ["cards.bulk_added"],
    ),
    "update_card": (lambda c, o, w: {"ids": w, "json": {"label": f"L {_uid()}"}}, ["card.updated"]),
    "move_card": (
        lambda c, o, w: {"ids": w, "json": {"user_group_id": _fresh_group(c, o, w)}},
        ["card.moved_out", "card.moved_in"],
    ),
    "remove_card": (
        lambda c, o, w: {"ids": {**w, "card_id": add_card(c, o, w["user_group_id"], _uid())["id"]}},
        ["card.removed"],
    ),
    "add_unknown_card": (
        lambda c, o, w: {
            "ids": {**w, "unknown_card_id": unknown_card(c, o, w["connector_id"])},
            "json": {"user_group_id": w["user_group_id"]},
        },
        ["card.added"],
    ),
    "start_learning_mode": (
        lambda c, o, w: {"ids": w, "json": _learning(c, o, w)},
        ["learning_mode.started"],
    ),
    "stop_learning_mode": (lambda c, o, w: {"ids": _learning_group(c, o, w)}, ["learning_mode.stopped"]),
    "preview_activation_change": (
        lambda c, o, w: {"ids": w, "json": {"activate": create_charging_group(c, o)["id"]}},
        [],
    ),
    # The world's card (an unknown UID would be noted for the unknown-cards list: README).
    "authorize_card": (
        lambda c, o, w: {
            "json": {"id_token": f"W{w['charging_group_id'][:8]}", "connector_id": w["connector_id"]}
        },
        [],
    ),
    "start_session": (
        lambda c, o, w: {
            "json": {
                "transaction_id": _uid(),
                "id_token": "UNKNOWN1",
                "connector_id": w["connector_id"],
                "meter_start_wh": 0,
                "started_at": "2026-11-03T10:00:00Z",
            }
        },
        ["session.started"],
    ),
    "stop_session": (
        lambda c, o, w: {
            "ids": {**w, "session_id": _open_session(c, o, w)},
            "json": {"meter_stop_wh": 500, "stopped_at": "2026-11-02T11:00:00Z"},
        },
        ["session.stopped"],
    ),
    "create_charging_group": (lambda c, o, w: {"json": {"name": f"CG {_uid()}"}}, ["charging_group.created"]),
    "update_charging_group": (
        lambda c, o, w: {"ids": w, "json": {"location_label": f"L {_uid()}"}},
        ["charging_group.updated"],
    ),
    "delete_charging_group": (
        lambda c, o, w: {"ids": {**w, "charging_group_id": create_charging_group(c, o)["id"]}},
        ["charging_group.deleted"],
    ),
    "create_charge_point": (
        lambda c, o, w: {
            "json": {"charging_group_id": w["charging_group_id"], "identity": _uid(), "role": "extender"}
        },
        ["charge_point.created"],
    ),
    "update_charge_point": (
        lambda c, o, w: {"ids": w, "json": {"identity": _uid()}},
        ["charge_point.updated"],
    ),
    "delete_charge_point": (
        lambda c, o, w: {
            "ids": {**w, "charge_point_id": make_site(c, o, connectors=1)["charge_point"]["id"]}
        },
        ["connector.deleted", "charge_point.deleted"],
    ),
    "create_connector": (
        lambda c, o, w: {
            "json": {
                "charge_point_id": create_charge_point(c, o, w["charging_group_id"], role="extender")["id"],
                "connector_number": 1,
                "evse_id": f"DE*AUD*E{_uid()}",
                "plug_type": "ccs2",
                "max_power_kw": "150",
            }
        },
        ["connector.created"],
    ),
    "update_connector": (lambda c, o, w: {"ids": w, "json": {"max_power_kw": "7.4"}}, ["connector.updated"]),
    "delete_connector": (
        lambda c, o, w: {"ids": {**w, "connector_id": make_site(c, o, connectors=1)["connectors"][0]["id"]}},
        ["connector.deleted"],
    ),
    "create_webhook_endpoint": (
        lambda c, o, w: {"json": {"url": "http://127.0.0.1:9/other", "event_types": ["card.updated"]}},
        ["webhook_endpoint.created"],
    ),
    "update_webhook_endpoint": (
        lambda c, o, w: {"ids": w, "json": {"description": f"D {_uid()}"}},
        ["webhook_endpoint.updated"],
    ),
    "delete_webhook_endpoint": (
        lambda c, o, w: {"ids": {**w, "endpoint_id": _new_endpoint(c, o)}},
        ["webhook_endpoint.deleted"],
    ),
    "redeliver_webhook": (lambda c, o, w: {"ids": w}, ["webhook_endpoint.redelivery_requested"]),
    "create_api_key": (lambda c, o, w: {"json": {"name": "K", "role": "viewer"}}, ["api_key.created"]),
    "revoke_api_key": (lambda c, o, w: {"ids": {**w, "api_key_id": _new_key(c, o)}}, ["api_key.revoked"]),
}

WRITES = [operation for operation in OPERATIONS if operation.is_write]


def test_every_write_has_a_scenario() -> None:
    missing = sorted(op.name for op in WRITES if op.name not in SCENARIOS)
    assert missing == [], f"write operations without an audit scenario: {missing}"
    assert sorted(SCENARIOS) == sorted(op.name for op in WRITES), "scenarios for operations that do not exist"


def _send(
    client: TestClient,
    org: Org,
    operation: Operation,
    request: Request,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Any:
    role = (
        Role.integration
        if operation.name in ("start_session", "stop_session", "authorize_card")
        else Role.admin
    )
    return client.request(
        operation.method,
        operation.url(request.get("ids", {})),
        headers={**org.auth(role), "X-Request-ID": request_id, **(headers or {})},
        json=request.get("json"),
        files=request.get("files"),
    )


def _events_of(client: TestClient, org: Org, request_id: str) -> list[dict[str, Any]]:
    events = ok(client.get("/v1/audit-events", params={"limit": 200}, headers=org.auth()))["items"]
    return [event for event in events if event["request_id"] == request_id]


@pytest.mark.parametrize("operation", WRITES, ids=str)
def test_successful_write_is_audited(
    client: TestClient, world_org: Org, world: dict[str, str], operation: Operation
) -> None:
    make_request, expected = SCENARIOS[operation.name]
    request = make_request(client, world_org, world)
    request_id = f"audit-{uuid.uuid4().hex}"
    response = _send(client, world_org, operation, request, request_id)
    assert 200 <= response.status_code < 300, response.text
    actions = sorted(event["action"] for event in _events_of(client, world_org, request_id))
    assert actions == sorted(expected)


@pytest.mark.parametrize("operation", [op for op in WRITES if SCENARIOS.get(op.name, (None, []))[1]], ids=str)
def test_failed_write_leaves_neither_change_nor_record(
    client: TestClient,
    world_org: Org,
    world: dict[str, str],
    operation: Operation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_request, _ = SCENARIOS[operation.name]
    request = make_request(client, world_org, world)
    before = organization_state(client, world_org)
    original = audit.record

    async def record_then_fail(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        raise RuntimeError("the audit writer failed after adding its record")

    monkeypatch.setattr(audit, "record", record_then_fail)
    response = _send(client, world_org, operation, request, f"fail-{uuid.uuid4().hex}")
    monkeypatch.undo()
    assert response.status_code == 500
    assert organization_state(client, world_org) == before
