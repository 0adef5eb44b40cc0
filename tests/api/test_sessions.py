import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org, insert_card, insert_site, insert_user_group, ok, start_session, stop

TARIFF = {
    "currency": "EUR",
    "price_per_kwh": "0.40",
    "session_fee": "1.00",
    "parking_fee_per_hour": "3.00",
    "parking_grace_minutes": 30,
}


@pytest.fixture
def site(client: TestClient, org: Org) -> dict[str, Any]:
    charging = insert_site(client, org, connectors=2)
    group = insert_user_group(
        client,
        org,
        tariff=TARIFF,
        activation={"scope": "custom", "charging_group_ids": [charging["group"]["id"]]},
    )
    card = insert_card(client, org, group["id"], "CAFE0001", label="Room 12")
    # Sessions start after the tariff was set, so it is the version in force.
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    return {
        "group": group,
        "card": card,
        "connector": charging["connectors"][0],
        "charging": charging,
        "t0": t0,
    }


class TestStartAndStop:
    def test_documents_the_session_with_its_cost(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        T0 = site["t0"]
        started = ok(
            start_session(client, org, "cafe0001", site["connector"]["id"], T0.isoformat(), 1_000), 201
        )
        assert started["status"] == "active" and started["authorized"] is True
        assert started["user_group_id"] == site["group"]["id"]
        assert started["card_id"] == site["card"]["id"] and started["card_label"] == "Room 12"
        assert started["tariff_snapshot"]["price_per_kwh"] == "0.40"
        # 21.5 kWh x 0.40 = 8.60; + 1.00; 95 min - 30 grace = 65 min x 3.00/h = 3.25; total 12.85
        stopped = ok(stop(client, org, started["id"], 22_500, T0 + timedelta(minutes=95)))
        assert stopped["status"] == "completed"
        assert (stopped["energy_kwh"], stopped["cost"], stopped["currency"]) == ("21.5", "12.85", "EUR")

    def test_start_is_idempotent_on_transaction_id(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        T0 = site["t0"]
        body = {"transaction_id": "tx-1", "id_token": "CAFE0001", "connector_id": site["connector"]["id"],
                "meter_start_wh": 0, "started_at": T0.isoformat()}  # fmt: skip
        first = client.post("/v1/sessions", json=body, headers=org.auth(Role.integration))
        again = client.post("/v1/sessions", json=body, headers=org.auth(Role.integration))
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        listed = ok(client.get("/v1/sessions", params={"transaction_id": "tx-1"}, headers=org.auth()))
        assert len(listed["items"]) == 1

    def test_stop_is_idempotent_and_refuses_other_values(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        T0 = site["t0"]
        started = ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        first = ok(stop(client, org, started["id"], 5_000, T0 + timedelta(minutes=20)))
        assert ok(stop(client, org, started["id"], 5_000, T0 + timedelta(minutes=20))) == first
        conflict = stop(client, org, started["id"], 6_000, T0 + timedelta(minutes=20))
        assert conflict.status_code == 409
        assert conflict.json()["type"].endswith("/session-already-stopped")

    def test_stop_before_start_is_422(self, client: TestClient, org: Org, site: dict[str, Any]) -> None:
        T0 = site["t0"]
        started = ok(
            start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat(), 5_000), 201
        )
        response = stop(client, org, started["id"], 4_999, T0 - timedelta(seconds=1))
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"meter_stop_wh", "stopped_at"}
        assert ok(client.get(f"/v1/sessions/{started['id']}", headers=org.auth()))["status"] == "active"

    def test_tariff_change_during_a_session_does_not_change_its_cost(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        started = ok(start_session(client, org, "CAFE0001", site["connector"]["id"],
                                   datetime.now(UTC).isoformat()), 201)  # fmt: skip
        ok(client.put(f"/v1/user-groups/{site['group']['id']}/tariff",
                      json={"currency": "EUR", "price_per_kwh": "9.99"}, headers=org.auth()))  # fmt: skip
        stopped_at = datetime.fromisoformat(started["started_at"]) + timedelta(minutes=10)
        stopped = ok(stop(client, org, started["id"], 10_000, stopped_at))
        assert stopped["cost"] == "5.00", stopped  # 10 kWh x 0.40 + 1.00, no parking within the grace
        later = ok(start_session(client, org, "CAFE0001", site["connector"]["id"],
                                 (datetime.now(UTC) + timedelta(seconds=1)).isoformat()), 201)  # fmt: skip
        assert later["tariff_snapshot"]["price_per_kwh"] == "9.99"

    def test_refused_session_is_still_recorded(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        T0 = site["t0"]
        client.patch(f"/v1/cards/{site['card']['id']}", json={"blocked": True}, headers=org.auth())
        started = ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        assert started["authorized"] is False
        assert (started["decision_status"], started["decision_reason"]) == ("Blocked", "card_blocked")
        assert started["user_group_id"] == site["group"]["id"]

    def test_unknown_connector_is_404(self, client: TestClient, org: Org, site: dict[str, Any]) -> None:
        T0 = site["t0"]
        body = {"transaction_id": "t", "id_token": "CAFE0001", "evse_id": "DE*NO*E0*1", "meter_start_wh": 0,
                "started_at": T0.isoformat()}  # fmt: skip
        assert client.post("/v1/sessions", json=body, headers=org.auth(Role.integration)).status_code == 404


class TestCostInTheCurrencysMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "price", "fee", "cost", "price_text", "fee_text"),
        [
            ("EUR", "0.355", "1", "3.66", "0.355", "1.00"),  # 7.5 x 0.355 + 1 = 3.6625
            ("RSD", "12.345", "10", "102.59", "12.345", "10.00"),  # 92.5875 + 10; CLDR would say 103
            ("JPY", "41", None, "308", "41", None),  # 307.5, half up
            ("KWD", "0.0155", None, "0.116", "0.0155", None),  # 0.11625
            ("IQD", "0.5", "1", "4.750", "0.500", "1.000"),  # 3.75 + 1
        ],
    )
    def test_cost_and_snapshot(
        self,
        client: TestClient,
        org: Org,
        currency: str,
        price: str,
        fee: str | None,
        cost: str,
        price_text: str,
        fee_text: str | None,
    ) -> None:
        charging = insert_site(client, org, connectors=1)
        tariff = {"currency": currency, "price_per_kwh": price, "session_fee": fee}
        activation = {"scope": "custom", "charging_group_ids": [charging["group"]["id"]]}
        group = insert_user_group(client, org, tariff=tariff, activation=activation)
        insert_card(client, org, group["id"], "M0NEY")
        t0 = datetime.now(UTC) + timedelta(seconds=1)
        connector_id = charging["connectors"][0]["id"]
        started = ok(start_session(client, org, "M0NEY", connector_id, t0.isoformat()), 201)
        snapshot = started["tariff_snapshot"]
        assert (snapshot["currency"], snapshot["price_per_kwh"], snapshot["session_fee"]) == (
            currency,
            price_text,
            fee_text,
        )
        stopped = ok(stop(client, org, started["id"], 7_500, t0 + timedelta(minutes=5)))
        assert (stopped["cost"], stopped["currency"]) == (cost, currency)
        assert ok(client.get(f"/v1/sessions/{started['id']}", headers=org.auth()))["cost"] == cost
        export = client.get("/v1/sessions/export.csv", headers=org.auth())
        (row,) = list(csv.DictReader(io.StringIO(export.text)))
        assert row["cost"] == cost


class TestGroupsSeeTheirSessions:
    def test_counts_and_delete_refused(self, client: TestClient, org: Org, site: dict[str, Any]) -> None:
        T0 = site["t0"]
        ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        page = ok(client.get(f"/v1/user-groups/{site['group']['id']}", headers=org.auth()))
        assert page["session_count"] == 1
        assert page["allowed_actions"]["delete"]["allowed"] is False
        assert "archive" in page["allowed_actions"]["delete"]["reason"]
        listed = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
        assert listed[0]["counts"]["sessions"] == 1
        refused = client.delete(f"/v1/user-groups/{site['group']['id']}", headers=org.auth())
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("/group-has-sessions")
        assert "archive" in refused.json()["detail"]


class TestFreeCharging:
    """Access control off: anyone charges, no group's offer is used (SPEC section 5)."""

    def test_a_guest_card_there_records_no_group_and_no_tariff(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        free = insert_site(client, org, connectors=1)
        T0 = site["t0"]
        started = ok(start_session(client, org, "CAFE0001", free["connectors"][0]["id"], T0.isoformat()), 201)
        assert (started["decision_status"], started["decision_reason"], started["authorized"]) == (
            "Accepted",
            "free_charging",
            True,
        )
        assert (started["user_group_id"], started["user_group_name"]) == (None, None)
        assert (started["tariff_version_id"], started["tariff_snapshot"], started["currency"]) == (
            None,
            None,
            None,
        )
        assert (started["card_id"], started["card_label"], started["id_token"]) == (
            site["card"]["id"],
            "Room 12",
            "CAFE0001",
        )
        assert started["charging_group_id"] == free["group"]["id"]
        stopped = ok(stop(client, org, started["id"], 10_000, T0 + timedelta(hours=2)))
        assert (stopped["energy_kwh"], stopped["cost"], stopped["currency"]) == ("10", None, None)
        mine = ok(
            client.get("/v1/sessions", params={"user_group_id": site["group"]["id"]}, headers=org.auth())
        )
        assert mine["items"] == []
        by_card = ok(client.get("/v1/sessions", params={"card_id": site["card"]["id"]}, headers=org.auth()))
        assert [s["id"] for s in by_card["items"]] == [started["id"]]
        trail = ok(client.get(f"/v1/user-groups/{site['group']['id']}/history", headers=org.auth()))
        assert "session.started" not in {e["action"] for e in trail["items"]}

    def test_the_group_has_no_session_and_can_still_be_deleted(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        free = insert_site(client, org, connectors=1)
        started = ok(start_session(client, org, "CAFE0001", free["connectors"][0]["id"],
                                   site["t0"].isoformat()), 201)  # fmt: skip
        page = ok(client.get(f"/v1/user-groups/{site['group']['id']}", headers=org.auth()))
        assert page["session_count"] == 0
        assert page["allowed_actions"]["delete"] == {"allowed": True, "reason": None}
        (listed,) = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
        assert listed["counts"]["sessions"] == 0
        ok(client.delete(f"/v1/user-groups/{site['group']['id']}", headers=org.auth()), 204)
        kept = ok(client.get(f"/v1/sessions/{started['id']}", headers=org.auth()))
        assert (kept["decision_reason"], kept["user_group_id"]) == ("free_charging", None)
        assert kept["card_id"] is None, "the card went with its group; the session keeps its UID and label"
        assert (kept["id_token"], kept["card_label"]) == ("CAFE0001", "Room 12")

    def test_the_same_card_where_access_is_controlled_is_the_groups(
        self, client: TestClient, org: Org, site: dict[str, Any]
    ) -> None:
        free = insert_site(client, org, connectors=1)
        T0 = site["t0"]
        ok(start_session(client, org, "CAFE0001", free["connectors"][0]["id"], T0.isoformat()), 201)
        ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        page = ok(client.get(f"/v1/user-groups/{site['group']['id']}", headers=org.auth()))
        assert page["session_count"] == 1
        assert page["allowed_actions"]["delete"]["allowed"] is False


class TestListAndExport:
    def test_filters(self, client: TestClient, org: Org, site: dict[str, Any]) -> None:
        T0 = site["t0"]
        other = site["charging"]["connectors"][1]
        a = ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        b = ok(
            start_session(client, org, "FREEGUEST", other["id"], (T0 + timedelta(hours=2)).isoformat()), 201
        )
        ok(stop(client, org, a["id"], 100, T0 + timedelta(minutes=5)))

        def ids(**params: Any) -> set[str]:
            return {
                s["id"] for s in ok(client.get("/v1/sessions", params=params, headers=org.auth()))["items"]
            }

        assert ids() == {a["id"], b["id"]}
        assert ids(user_group_id=site["group"]["id"]) == {a["id"]}
        assert ids(card_id=site["card"]["id"]) == {a["id"]}
        assert ids(connector_id=other["id"]) == {b["id"]}
        assert ids(charging_group_id=site["charging"]["group"]["id"]) == {a["id"], b["id"]}
        assert ids(status="completed") == {a["id"]}
        assert ids(started_from=(T0 + timedelta(hours=1)).isoformat()) == {b["id"]}
        assert ids(started_until=(T0 + timedelta(hours=1)).isoformat()) == {a["id"]}

    def test_csv_export(self, client: TestClient, org: Org, site: dict[str, Any]) -> None:
        T0 = site["t0"]
        started = ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        ok(stop(client, org, started["id"], 2_000, T0 + timedelta(minutes=10)))
        response = client.get("/v1/sessions/export.csv", headers=org.auth(Role.viewer))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 1
        row = rows[0]
        lines = list(csv.reader(io.StringIO(response.text)))
        assert [len(line) for line in lines] == [len(lines[0])] * len(lines), "cells without a column"
        assert row["user_group"] == site["group"]["name"]
        assert (row["card_uid"], row["card_label"]) == ("CAFE0001", "Room 12")
        assert row["evse_id"] == site["connector"]["evse_id"]
        assert (row["energy_kwh"], row["cost"], row["currency"]) == ("2", "1.80", "EUR")
        assert row["tariff"] == "EUR 0.40/kWh + 1.00/session + 3.00/h parking after 30 min"

    def test_other_organization_sees_nothing(
        self, client: TestClient, org: Org, other_org: Org, site: dict[str, Any]
    ) -> None:
        T0 = site["t0"]
        started = ok(start_session(client, org, "CAFE0001", site["connector"]["id"], T0.isoformat()), 201)
        assert client.get(f"/v1/sessions/{started['id']}", headers=other_org.auth()).status_code == 404
        assert stop(client, other_org, started["id"], 1, T0 + timedelta(minutes=1)).status_code == 404
        assert ok(client.get("/v1/sessions", headers=other_org.auth()))["items"] == []
        export = client.get("/v1/sessions/export.csv", headers=other_org.auth())
        assert len(list(csv.DictReader(io.StringIO(export.text)))) == 0
