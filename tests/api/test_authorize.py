"""The decision table of SPEC section 5, one test per row, over HTTP."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.settings import Settings
from tests.factories import Org, authorize, insert_card, insert_site, insert_user_group, ok


@pytest.fixture
def setup(client: TestClient, org: Org) -> dict[str, Any]:
    """Two access-controlled charging groups; a user group active on the first only, with a card."""
    here = insert_site(client, org, connectors=1)
    elsewhere = insert_site(client, org, connectors=1)
    group = insert_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [here["group"]["id"]]}
    )
    ok(client.patch(f"/v1/charging-groups/{elsewhere['group']['id']}", json={"access_control": True},
                    headers=org.auth()))  # fmt: skip
    card = insert_card(client, org, group["id"], "04A2B3C4")
    return {
        "group": group,
        "card": card,
        "here": here["connectors"][0],
        "elsewhere": elsewhere["connectors"][0],
        "free": insert_site(client, org, connectors=1)["connectors"][0],
    }


def decision(client: TestClient, org: Org, uid: str, connector: dict[str, Any]) -> dict[str, Any]:
    return ok(authorize(client, org, uid, connector_id=connector["id"]))  # type: ignore[no-any-return]


class TestDecisionTable:
    def test_unknown_connector_is_a_404_problem(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        response = authorize(client, org, "04A2B3C4", evse_id="DE*NOPE*E1*1")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_access_control_off_is_free_charging(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        answer = decision(client, org, "NOBODY", setup["free"])
        assert (answer["status"], answer["reason"], answer["user_group_id"]) == (
            "Accepted",
            "free_charging",
            None,
        )

    def test_a_guest_card_at_a_free_charging_group_uses_no_group(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        answer = decision(client, org, "04A2B3C4", setup["free"])
        assert (answer["status"], answer["ocpp16_status"], answer["reason"]) == (
            "Accepted",
            "Accepted",
            "free_charging",
        )
        assert answer["user_group_id"] is None
        assert answer["card_id"] == setup["card"]["id"]

    def test_unregistered_uid_is_invalid(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        answer = decision(client, org, "FFFFFFFF", setup["here"])
        assert (answer["status"], answer["ocpp16_status"], answer["reason"]) == (
            "Invalid",
            "Invalid",
            "unknown_card",
        )

    def test_blocked_card(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        client.patch(f"/v1/cards/{setup['card']['id']}", json={"blocked": True}, headers=org.auth())
        answer = decision(client, org, "04A2B3C4", setup["here"])
        assert (answer["status"], answer["ocpp16_status"], answer["reason"]) == (
            "Blocked",
            "Blocked",
            "card_blocked",
        )

    def test_card_outside_validity(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        client.patch(f"/v1/cards/{setup['card']['id']}", json={"valid_until": past}, headers=org.auth())
        answer = decision(client, org, "04A2B3C4", setup["here"])
        assert (answer["status"], answer["reason"]) == ("Expired", "card_expired")
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        client.patch(f"/v1/cards/{setup['card']['id']}", json={"valid_from": future, "valid_until": None},
                     headers=org.auth())  # fmt: skip
        answer = decision(client, org, "04A2B3C4", setup["here"])
        assert (answer["status"], answer["reason"]) == ("Expired", "card_not_yet_valid")

    def test_archived_group_is_invalid(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        ok(client.post(f"/v1/user-groups/{setup['group']['id']}/archive", headers=org.auth()))
        answer = decision(client, org, "04A2B3C4", setup["here"])
        assert (answer["status"], answer["reason"]) == ("Invalid", "group_archived")

    def test_group_not_active_here(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        answer = decision(client, org, "04A2B3C4", setup["elsewhere"])
        assert (answer["status"], answer["ocpp16_status"], answer["reason"]) == (
            "NotAtThisLocation",
            "Invalid",
            "not_at_this_location",
        )

    def test_otherwise_accepted_with_group_and_cache_time(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        answer = decision(client, org, "04:a2:b3:c4", setup["here"])
        assert (answer["status"], answer["reason"]) == ("Accepted", "accepted")
        assert answer["user_group_id"] == setup["group"]["id"]
        assert answer["card_id"] == setup["card"]["id"]
        expires = datetime.fromisoformat(answer["cache_expires_at"])
        assert datetime.now(UTC) < expires <= datetime.now(UTC) + timedelta(seconds=301)

    def test_cache_time_never_beyond_card_validity(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        soon = datetime.now(UTC) + timedelta(seconds=30)
        client.patch(
            f"/v1/cards/{setup['card']['id']}", json={"valid_until": soon.isoformat()}, headers=org.auth()
        )
        answer = decision(client, org, "04A2B3C4", setup["here"])
        assert answer["status"] == "Accepted"
        assert datetime.fromisoformat(answer["cache_expires_at"]) == soon

    def test_scope_all_covers_charging_groups_created_later(self, client: TestClient, org: Org) -> None:
        group = insert_user_group(client, org, activation={"scope": "all", "charging_group_ids": []})
        insert_card(client, org, group["id"], "ALL1")
        later = insert_site(client, org, connectors=1)
        ok(client.patch(f"/v1/charging-groups/{later['group']['id']}", json={"access_control": True},
                        headers=org.auth()))  # fmt: skip
        answer = decision(client, org, "ALL1", later["connectors"][0])
        assert (answer["status"], answer["reason"]) == ("Accepted", "accepted")


class TestConnectorSelectors:
    def test_by_evse_id_and_by_charge_point(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        connector = setup["here"]
        by_evse = ok(authorize(client, org, "04A2B3C4", evse_id=connector["evse_id"].lower()))
        charge_point = ok(client.get(f"/v1/charge-points/{connector['charge_point_id']}", headers=org.auth()))
        by_cp = ok(authorize(client, org, "04A2B3C4", charge_point_identity=charge_point["identity"],
                             connector_number=connector["connector_number"]))  # fmt: skip
        assert by_evse["connector_id"] == by_cp["connector_id"] == connector["id"]
        assert by_evse["status"] == by_cp["status"] == "Accepted"

    def test_two_selectors_at_once_is_422(self, client: TestClient, org: Org, setup: dict[str, Any]) -> None:
        response = authorize(client, org, "X", connector_id=setup["here"]["id"], evse_id="DE*X*1")
        assert response.status_code == 422

    def test_other_organizations_connector_is_404(
        self, client: TestClient, org: Org, other_org: Org, setup: dict[str, Any]
    ) -> None:
        assert authorize(client, other_org, "04A2B3C4", connector_id=setup["here"]["id"]).status_code == 404


class TestAccess:
    def test_only_integration_and_admin_may_authorize(
        self, client: TestClient, org: Org, setup: dict[str, Any]
    ) -> None:
        body = {"id_token": "X", "connector_id": setup["here"]["id"]}
        for role in (Role.viewer, Role.operator):
            assert client.post("/v1/authorize", json=body, headers=org.auth(role)).status_code == 403
        assert client.post("/v1/authorize", json=body, headers=org.auth(Role.admin)).status_code == 200


def test_refusals_are_counted_by_reason(client: TestClient, org: Org, setup: dict[str, Any]) -> None:
    def count() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('authorization_refusals_total{reason="unknown_card"}'):
                return float(line.split()[-1])
        return 0.0

    before = count()
    decision(client, org, "NOT-REGISTERED", setup["here"])
    assert count() == before + 1


def test_a_change_is_seen_at_once_by_another_instance(
    client: TestClient, settings: Settings, org: Org, setup: dict[str, Any]
) -> None:
    """Two instances of the service on one database (as behind a load balancer): the moment one
    acknowledges a block, archive or deactivation, the other refuses the card. Nothing is cached."""
    from app.main import create_app

    with TestClient(create_app(settings)) as other_instance:
        here = {"connector_id": setup["here"]["id"]}
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["status"] == "Accepted"
        ok(client.patch(f"/v1/cards/{setup['card']['id']}", json={"blocked": True}, headers=org.auth()))
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["status"] == "Blocked"
        ok(client.patch(f"/v1/cards/{setup['card']['id']}", json={"blocked": False}, headers=org.auth()))
        ok(client.post(f"/v1/user-groups/{setup['group']['id']}/archive", headers=org.auth()))
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["reason"] == "group_archived"
        ok(client.post(f"/v1/user-groups/{setup['group']['id']}/restore", headers=org.auth()))
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["status"] == "Accepted"
        group = setup["group"]["id"]
        ok(client.delete(f"/v1/user-groups/{group}/charging-groups/{setup['here']['charging_group_id']}",
                         headers=org.auth()))  # fmt: skip
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["status"] == "NotAtThisLocation"
        ok(client.delete(f"/v1/cards/{setup['card']['id']}", headers=org.auth()), 204)
        assert ok(authorize(other_instance, org, "04A2B3C4", **here))["reason"] == "unknown_card"
