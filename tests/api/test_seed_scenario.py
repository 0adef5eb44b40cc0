"""The seed document, end to end over HTTP: what the dashboard and the charge-point backend do."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org, authorize, make_site, ok, start_session


def test_guest_cards_from_creation_to_history(client: TestClient, org: Org) -> None:
    operator = org.auth(Role.operator)
    lobby, garage, staff = (make_site(client, org, connectors=n) for n in (2, 3, 1))

    # Steps 1-4 of the wizard: name, optional tariff, activation, then the summary before confirming.
    wizard = {
        "name": "  Guests  ",
        "type": "cards_only",
        "activation": {"scope": "custom", "charging_group_ids": [lobby["group"]["id"]]},
    }
    summary = ok(client.post("/v1/user-groups/preview", json=wizard, headers=operator))
    assert summary["name"] == "Guests"
    assert summary["activation"] == {"scope": "custom", "charging_group_count": 1, "connector_count": 2}
    assert [cg["id"] for cg in summary["access_control_to_enable"]] == [lobby["group"]["id"]]
    assert ok(client.get("/v1/user-groups", headers=operator))["items"] == []  # the preview changed nothing

    created = client.post("/v1/user-groups", json=wizard, headers=operator)
    group = ok(created, 201)
    group_url = created.headers["location"]
    assert group["tariff"] is None and group["cards"] == {"count": 0}
    assert ok(client.get(f"/v1/charging-groups/{lobby['group']['id']}", headers=operator))["access_control"]

    # Tariff box: set the tariff the sessions are documented with.
    tariff = {"currency": "EUR", "price_per_kwh": "0.30", "session_fee": "0.50"}
    assert ok(client.put(f"{group_url}/tariff", json=tariff, headers=operator))["price_per_kwh"] == "0.30"

    # Charging-groups box: activate on one more charging group and read the counts.
    ok(client.put(f"{group_url}/charging-groups/{garage['group']['id']}", headers=operator))
    activation = ok(client.get(f"{group_url}/charging-groups", headers=operator))
    assert (activation["charging_group_count"], activation["connector_count"]) == (2, 5)

    # Cards box: one by one, then in bulk (JSON and CSV).
    ok(
        client.post(f"{group_url}/cards", json={"uid": "04:11:22:33", "label": "Room 101"}, headers=operator),
        201,
    )
    bulk = {"cards": [{"uid": f"0422{n:04d}", "label": f"Room {n}"} for n in range(200, 210)]}
    assert ok(client.post(f"{group_url}/cards/bulk", json=bulk, headers=operator), 201)["added"] == 10
    upload = {"file": ("guests.csv", b"uid,label\n04-33-00-01,Spa 1\n04-33-00-02,Spa 2\n", "text/csv")}
    assert ok(client.post(f"{group_url}/cards/import", files=upload, headers=operator), 201)["added"] == 2
    page_response = client.get(group_url, headers=operator)
    page = ok(page_response)
    assert page["cards"] == {"count": 13}
    assert page["activation"] == {"scope": "custom", "charging_group_count": 2, "connector_count": 5}
    assert page["tariff"]["currency"] == "EUR"

    # Rename at any time, guarded by the ETag of the page the operator is looking at.
    renamed = client.patch(
        group_url,
        json={"name": "Hotel guests"},
        headers={**operator, "If-Match": page_response.headers["etag"]},
    )
    assert ok(renamed)["name"] == "Hotel guests"

    # A guest charges for free; the session is documented with the tariff.
    lobby_connector = lobby["connectors"][0]["id"]
    assert ok(authorize(client, org, "04112233", connector_id=lobby_connector))["status"] == "Accepted"
    assert (
        ok(authorize(client, org, "04112233", connector_id=staff["connectors"][0]["id"]))["status"]
        == "Accepted"
    )
    started_at = datetime.now(UTC)
    session = ok(start_session(client, org, "04112233", lobby_connector, started_at.isoformat()), 201)
    stop = {"meter_stop_wh": 7_000, "stopped_at": (started_at + timedelta(minutes=40)).isoformat()}
    stopped = ok(
        client.post(f"/v1/sessions/{session['id']}/stop", json=stop, headers=org.auth(Role.integration))
    )
    assert (stopped["energy_kwh"], stopped["cost"]) == ("7", "2.60")  # 7 x 0.30 + 0.50

    # Delete is refused once a session ran through the group: archive instead.
    refused = client.delete(group_url, headers=operator)
    assert refused.status_code == 409 and "archive" in refused.json()["detail"]
    archived = ok(client.post(f"{group_url}/archive", headers=operator))
    assert archived["status"] == "archived"
    assert archived["allowed_actions"]["restore"]["allowed"] is True

    # Its cards are refused now, and no card can be added.
    answer = ok(authorize(client, org, "04112233", connector_id=lobby_connector))
    assert (answer["status"], answer["reason"]) == ("Invalid", "group_archived")
    assert client.post(f"{group_url}/cards", json={"uid": "0499"}, headers=operator).status_code == 409

    # Restored: the same activation, tariff and cards, and the cards work again.
    restored = ok(client.post(f"{group_url}/restore", headers=operator))
    assert restored["status"] == "active" and restored["cards"] == {"count": 13}
    assert restored["activation"]["charging_group_count"] == 2
    assert ok(authorize(client, org, "04112233", connector_id=lobby_connector))["status"] == "Accepted"

    # The history has every step, newest first, each readable on its own.
    history = ok(client.get(f"{group_url}/history", params={"limit": 200}, headers=org.auth(Role.viewer)))[
        "items"
    ]
    actions = [event["action"] for event in reversed(history)]
    assert actions == [
        "user_group.created",
        "charging_group.updated",  # access control switched on at the lobby
        "tariff.set",
        "activation.added",
        "charging_group.updated",  # ... and at the garage
        "card.added",
        "cards.bulk_added",
        "cards.bulk_added",
        "user_group.renamed",
        "session.started",
        "session.stopped",
        "user_group.archived",
        "user_group.restored",
    ]
    renamed_event = next(e for e in history if e["action"] == "user_group.renamed")
    assert (renamed_event["old_values"], renamed_event["new_values"]) == (
        {"name": "Guests"},
        {"name": "Hotel guests"},
    )
    assert all(e["actor_name"] and e["request_id"] and e["created_at"] for e in history)
    added = next(e for e in history if e["action"] == "activation.added")
    assert added["new_values"]["charging_group_name"] == garage["group"]["name"]
