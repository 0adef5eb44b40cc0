"""The tariff box (versioned tariff) and the charging-groups box (activation) over HTTP."""

import itertools
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import (
    Org,
    archive,
    at,
    create_charge_point,
    create_charging_group,
    create_connector,
    create_user_group,
    custom,
    group_history,
    make_site,
    ok,
)

TARIFF = {"currency": "EUR", "price_per_kwh": "0.35"}


def audit_actions(client: TestClient, org: Org, entity_id: str) -> list[str]:
    page = ok(client.get("/v1/audit-events", params={"entity_id": entity_id}, headers=org.auth()))
    return [event["action"] for event in page["items"]]


def access_control(client: TestClient, org: Org, charging_group_id: str) -> bool:
    return ok(client.get(f"/v1/charging-groups/{charging_group_id}", headers=org.auth()))["access_control"]  # type: ignore[no-any-return]


class TestTariff:
    def test_no_tariff_is_404_tariff_not_set(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        response = client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth())
        assert response.status_code == 404
        assert response.json()["type"].endswith("/tariff-not-set")
        versions = ok(client.get(f"/v1/user-groups/{group['id']}/tariff/versions", headers=org.auth()))
        assert versions == {"items": [], "next_cursor": None}

    def test_unknown_group_is_plain_404(self, client: TestClient, org: Org) -> None:
        response = client.get(f"/v1/user-groups/{uuid.uuid4()}/tariff", headers=org.auth())
        assert response.status_code == 404
        assert response.json()["type"].endswith("/not-found")
        put = client.put(f"/v1/user-groups/{uuid.uuid4()}/tariff", json=TARIFF, headers=org.auth())
        assert put.status_code == 404

    def test_set_returns_money_as_decimal_strings(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/tariff"
        body = {
            "currency": " chf ",
            "price_per_kwh": "0.30",
            "session_fee": "1.00",
            "parking_fee_per_hour": "2.5",
            "parking_grace_minutes": 30,
        }
        tariff = ok(client.put(url, json=body, headers=org.auth()))
        assert tariff["currency"] == "CHF"
        assert tariff["price_per_kwh"] == "0.30"
        assert tariff["session_fee"] == "1.00"
        assert tariff["parking_fee_per_hour"] == "2.50"
        assert tariff["parking_grace_minutes"] == 30
        assert tariff["valid_until"] is None and tariff["valid_from"]
        uuid.UUID(tariff["id"])
        assert ok(client.get(url, headers=org.auth(Role.viewer))) == tariff
        page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))
        assert page["tariff"] == tariff

    @pytest.mark.parametrize(
        ("currency", "price", "expected"),
        [
            ("EUR", "0", "0.00"),
            ("EUR", "10", "10.00"),
            ("EUR", "1E+1", "10.00"),
            ("EUR", "0.123456", "0.123456"),
            ("EUR", "0.355", "0.355"),
            ("EUR", "0.350", "0.35"),
            ("EUR", "123456.5", "123456.50"),
            ("JPY", "308", "308"),
            ("JPY", "41.50", "41.5"),
            ("KWD", "1.5", "1.500"),
            ("RSD", "7", "7.00"),
            ("IQD", "7", "7.000"),
            ("CLF", "0.5", "0.5000"),
        ],
    )
    def test_amounts_have_at_least_the_minor_units(
        self, client: TestClient, org: Org, currency: str, price: str, expected: str
    ) -> None:
        group = create_user_group(client, org)
        body = {"currency": currency, "price_per_kwh": price}
        tariff = ok(client.put(f"/v1/user-groups/{group['id']}/tariff", json=body, headers=org.auth()))
        assert tariff["price_per_kwh"] == expected
        got = ok(client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()))
        assert got["price_per_kwh"] == expected

    def test_parking_fee_without_grace_means_zero_grace(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        body = {**TARIFF, "parking_fee_per_hour": "3"}
        tariff = ok(client.put(f"/v1/user-groups/{group['id']}/tariff", json=body, headers=org.auth()))
        assert tariff["parking_fee_per_hour"] == "3.00" and tariff["parking_grace_minutes"] == 0
        assert tariff["session_fee"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"currency": "XYZ", "price_per_kwh": "0.3"}, "currency"),
            ({"currency": "EURO", "price_per_kwh": "0.3"}, "currency"),
            ({"currency": "DEM", "price_per_kwh": "0.3"}, "currency"),  # withdrawn in 2002
            ({"currency": "XAU", "price_per_kwh": "0.3"}, "currency"),  # gold: minor unit N.A.
            ({"currency": "XXX", "price_per_kwh": "0.3"}, "currency"),  # "no currency"
            ({"currency": "XDR", "price_per_kwh": "0.3"}, "currency"),  # SDR: minor unit N.A.
            ({"currency": "EUR", "price_per_kwh": "-0.01"}, "price_per_kwh"),
            ({"currency": "EUR", "price_per_kwh": "0.3", "session_fee": "-1"}, "session_fee"),
            (
                {"currency": "EUR", "price_per_kwh": "0.3", "parking_fee_per_hour": "-2"},
                "parking_fee_per_hour",
            ),
            ({"currency": "EUR", "price_per_kwh": 0.35}, "price_per_kwh"),
            ({"currency": "EUR", "price_per_kwh": "0.3", "session_fee": 1.5}, "session_fee"),
            ({"currency": "EUR", "price_per_kwh": "0.1234567"}, "price_per_kwh"),
            ({"currency": "EUR", "price_per_kwh": "abc"}, "price_per_kwh"),
            ({"currency": "EUR"}, "price_per_kwh"),
            ({"price_per_kwh": "0.3"}, "currency"),
            pytest.param(
                {"currency": "EUR", "price_per_kwh": "0.3", "parking_grace_minutes": 10},
                "parking_grace_minutes",
            ),
            (
                {
                    "currency": "EUR",
                    "price_per_kwh": "0.3",
                    "parking_fee_per_hour": "1",
                    "parking_grace_minutes": -1,
                },
                "parking_grace_minutes",
            ),
            ({"currency": "EUR", "price_per_kwh": "0.3", "vat": "19"}, "vat"),
        ],
    )
    def test_invalid_tariff_is_422(
        self, client: TestClient, org: Org, body: dict[str, Any], field: str
    ) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/tariff"
        response = client.put(url, json=body, headers=org.auth())
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("/validation-error")
        fields = {error["field"] for error in response.json()["errors"]}
        assert field in fields, fields
        assert client.get(url, headers=org.auth()).status_code == 404

    def test_grace_without_parking_fee_is_rejected(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        body = {**TARIFF, "parking_grace_minutes": 15}
        response = client.put(f"/v1/user-groups/{group['id']}/tariff", json=body, headers=org.auth())
        assert response.status_code == 422
        assert "parking_fee_per_hour" in response.text

    def test_each_change_is_a_new_version(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, tariff={**TARIFF, "price_per_kwh": "0.10"})
        url = f"/v1/user-groups/{group['id']}/tariff"
        ok(client.put(url, json={**TARIFF, "price_per_kwh": "0.20"}, headers=org.auth()))
        latest = ok(client.put(url, json={**TARIFF, "price_per_kwh": "0.30"}, headers=org.auth()))

        versions = ok(client.get(f"{url}/versions", headers=org.auth()))["items"]
        assert [v["price_per_kwh"] for v in versions] == ["0.30", "0.20", "0.10"]
        assert len({v["id"] for v in versions}) == 3
        assert versions[0] == latest and versions[0]["valid_until"] is None
        for newer, older in itertools.pairwise(versions):
            assert older["valid_until"] is not None
            assert at(older["valid_from"]) <= at(older["valid_until"]) <= at(newer["valid_from"])
        assert ok(client.get(url, headers=org.auth()))["id"] == latest["id"]

        first_page = ok(client.get(f"{url}/versions", params={"limit": 2}, headers=org.auth()))
        assert [v["id"] for v in first_page["items"]] == [versions[0]["id"], versions[1]["id"]]
        rest = ok(
            client.get(
                f"{url}/versions",
                params={"limit": 2, "cursor": first_page["next_cursor"]},
                headers=org.auth(),
            )
        )
        assert [v["id"] for v in rest["items"]] == [versions[2]["id"]] and rest["next_cursor"] is None

        sets = [e for e in group_history(client, org, group["id"]) if e["action"] == "tariff.set"]
        assert len(sets) == 2
        assert sets[0]["old_values"]["price_per_kwh"] in ("0.2", "0.20", "0.200000")
        assert sets[0]["new_values"]["price_per_kwh"] in ("0.3", "0.30")
        assert sets[0]["entity_id"] == latest["id"]

    def test_remove(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, tariff=TARIFF)
        url = f"/v1/user-groups/{group['id']}/tariff"
        removed = client.delete(url, headers=org.auth())
        assert removed.status_code == 204 and removed.content == b""
        missing = client.get(url, headers=org.auth())
        assert missing.status_code == 404 and missing.json()["type"].endswith("/tariff-not-set")
        again = client.delete(url, headers=org.auth())
        assert again.status_code == 404 and again.json()["type"].endswith("/tariff-not-set")

        (version,) = ok(client.get(f"{url}/versions", headers=org.auth()))["items"]
        assert version["valid_until"] is not None
        assert ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))["tariff"] is None
        listed = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
        assert [item["tariff"] for item in listed] == [None]
        actions = [e["action"] for e in group_history(client, org, group["id"])]
        assert actions.count("tariff.removed") == 1

        reset = ok(client.put(url, json=TARIFF, headers=org.auth()))
        assert ok(client.get(url, headers=org.auth()))["id"] == reset["id"]
        assert len(ok(client.get(f"{url}/versions", headers=org.auth()))["items"]) == 2

    def test_archived_group_refuses_tariff_changes(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, tariff=TARIFF)
        archive(client, org, group["id"])
        url = f"/v1/user-groups/{group['id']}/tariff"
        put = client.put(url, json={**TARIFF, "price_per_kwh": "9"}, headers=org.auth())
        assert put.status_code == 409 and put.json()["type"].endswith("/group-archived")
        delete = client.delete(url, headers=org.auth())
        assert delete.status_code == 409 and delete.json()["type"].endswith("/group-archived")
        current = ok(client.get(url, headers=org.auth()))
        assert current["price_per_kwh"] == "0.35" and current["valid_until"] is None
        assert len(ok(client.get(f"{url}/versions", headers=org.auth()))["items"]) == 1

    def test_viewer_reads_but_cannot_change(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, tariff=TARIFF)
        url = f"/v1/user-groups/{group['id']}/tariff"
        assert client.get(url, headers=org.auth(Role.viewer)).status_code == 200
        assert client.put(url, json=TARIFF, headers=org.auth(Role.viewer)).status_code == 403
        assert client.delete(url, headers=org.auth(Role.viewer)).status_code == 403
        assert client.get(url, headers=org.auth(Role.integration)).status_code == 200  # reads, issue 12
        assert client.put(url, json=TARIFF, headers=org.auth(Role.integration)).status_code == 403
        assert ok(client.put(url, json=TARIFF, headers=org.auth(Role.operator)))["currency"] == "EUR"


class TestActivation:
    def test_get_scope_totals_and_items(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)["group"]
        second = make_site(client, org, connectors=3)["group"]
        make_site(client, org, connectors=1)
        group = create_user_group(client, org, activation=custom(first["id"], second["id"]))
        activation = ok(
            client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth(Role.viewer))
        )
        assert activation["scope"] == "custom"
        assert (activation["charging_group_count"], activation["connector_count"]) == (2, 5)
        counts = {item["id"]: item["connector_count"] for item in activation["items"]}
        assert counts == {first["id"]: 2, second["id"]: 3}
        assert all(item["access_control"] is True for item in activation["items"])
        assert {item["name"] for item in activation["items"]} == {first["name"], second["name"]}
        assert activation["next_cursor"] is None

    def test_items_are_paginated(self, client: TestClient, org: Org) -> None:
        ids = {create_charging_group(client, org)["id"] for _ in range(3)}
        group = create_user_group(client, org, activation={"scope": "all"})
        url = f"/v1/user-groups/{group['id']}/charging-groups"
        first = ok(client.get(url, params={"limit": 2}, headers=org.auth()))
        assert len(first["items"]) == 2 and first["charging_group_count"] == 3
        rest = ok(client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=org.auth()))
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert {item["id"] for item in first["items"] + rest["items"]} == ids

    def test_replace_with_a_custom_list(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)["group"]
        second = make_site(client, org, connectors=1)["group"]
        group = create_user_group(client, org, activation=custom(first["id"]))
        url = f"/v1/user-groups/{group['id']}/charging-groups"

        replaced = ok(client.put(url, json=custom(second["id"]), headers=org.auth()))
        assert replaced["scope"] == "custom"
        assert [item["id"] for item in replaced["items"]] == [second["id"]]
        assert (replaced["charging_group_count"], replaced["connector_count"]) == (1, 1)
        got = ok(client.get(url, headers=org.auth()))
        assert [(i["id"], i["connector_count"]) for i in got["items"]] == [(second["id"], 1)]
        assert got["items"][0]["access_control"] is True
        page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))
        assert page["activation"] == {"scope": "custom", "charging_group_count": 1, "connector_count": 1}

        emptied = ok(client.put(url, json={"scope": "custom"}, headers=org.auth()))
        assert emptied["items"] == [] and emptied["charging_group_count"] == 0

        (event, *_) = [
            e for e in group_history(client, org, group["id"]) if e["action"] == "activation.replaced"
        ]
        assert event["old_values"]["charging_groups"] == [{"id": second["id"], "name": second["name"]}]
        assert event["new_values"] == {"scope": "custom", "charging_groups": []}

    def test_replace_with_unknown_charging_groups_is_422(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        mine = create_charging_group(client, org)
        foreign = create_charging_group(client, other_org)
        group = create_user_group(client, org, activation=custom(mine["id"]))
        url = f"/v1/user-groups/{group['id']}/charging-groups"
        response = client.put(url, json=custom(foreign["id"]), headers=org.auth())
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["charging_group_ids"]
        assert [item["id"] for item in ok(client.get(url, headers=org.auth()))["items"]] == [mine["id"]]
        invalid = client.put(
            url, json={"scope": "all", "charging_group_ids": [mine["id"]]}, headers=org.auth()
        )
        assert invalid.status_code == 422
        assert access_control(client, other_org, foreign["id"]) is False

    def test_scope_all_covers_charging_groups_created_later(self, client: TestClient, org: Org) -> None:
        make_site(client, org, connectors=2)
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/charging-groups"
        replaced = ok(client.put(url, json={"scope": "all"}, headers=org.auth()))
        assert replaced["scope"] == "all"
        assert (replaced["charging_group_count"], replaced["connector_count"]) == (1, 2)

        later = make_site(client, org, connectors=3)
        activation = ok(client.get(url, headers=org.auth()))
        assert (activation["charging_group_count"], activation["connector_count"]) == (2, 5)
        assert later["group"]["id"] in {item["id"] for item in activation["items"]}
        page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))
        assert page["activation"] == {"scope": "all", "charging_group_count": 2, "connector_count": 5}
        (item,) = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
        assert (item["counts"]["charging_groups"], item["counts"]["connectors"]) == (2, 5)

        extender = create_charge_point(client, org, later["group"]["id"], role="extender")
        create_connector(client, org, extender["id"], 1)
        assert ok(client.get(url, headers=org.auth()))["connector_count"] == 6

    def test_activating_switches_access_control_on_and_is_audited(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=2)
        cg = site["group"]
        assert access_control(client, org, cg["id"]) is False
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/charging-groups/{cg['id']}"

        activated = ok(client.put(url, headers={**org.auth(), "X-Request-ID": "activate-1"}))
        assert activated["scope"] == "custom"
        assert [(i["id"], i["connector_count"]) for i in activated["items"]] == [(cg["id"], 2)]
        assert (activated["charging_group_count"], activated["connector_count"]) == (1, 2)
        assert access_control(client, org, cg["id"]) is True

        trail = ok(client.get("/v1/audit-events", params={"entity_id": cg["id"]}, headers=org.auth()))[
            "items"
        ]
        assert [e["action"] for e in trail] == ["charging_group.updated", "charging_group.created"]
        assert trail[0]["old_values"]["access_control"] is False
        assert trail[0]["new_values"]["access_control"] is True
        assert trail[0]["request_id"] == "activate-1"
        actions = [e["action"] for e in group_history(client, org, group["id"])]
        assert "activation.added" in actions and "charging_group.updated" in actions

        again = ok(client.put(url, headers=org.auth()))  # already active: nothing changes
        assert again == ok(client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth()))
        assert [(i["id"], i["access_control"]) for i in again["items"]] == [(cg["id"], True)]
        assert audit_actions(client, org, cg["id"]).count("charging_group.updated") == 1
        actions = [e["action"] for e in group_history(client, org, group["id"])]
        assert actions.count("activation.added") == 1

    def test_response_shows_access_control_switched_on(self, client: TestClient, org: Org) -> None:
        first = create_charging_group(client, org)
        second = create_charging_group(client, org)
        group = create_user_group(client, org)
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        one = ok(client.put(f"{base}/{first['id']}", headers=org.auth()))
        assert [(i["id"], i["access_control"]) for i in one["items"]] == [(first["id"], True)]
        replaced = ok(client.put(base, json=custom(second["id"]), headers=org.auth()))
        assert [(i["id"], i["access_control"]) for i in replaced["items"]] == [(second["id"], True)]

    def test_activating_where_access_control_is_on_changes_only_the_activation(
        self, client: TestClient, org: Org
    ) -> None:
        cg = create_charging_group(client, org, access_control=True)
        group = create_user_group(client, org)
        ok(client.put(f"/v1/user-groups/{group['id']}/charging-groups/{cg['id']}", headers=org.auth()))
        assert audit_actions(client, org, cg["id"]) == ["charging_group.created"]

    def test_replacing_switches_access_control_on(self, client: TestClient, org: Org) -> None:
        first = create_charging_group(client, org)
        second = create_charging_group(client, org)
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/charging-groups"
        ok(client.put(url, json={"scope": "all"}, headers=org.auth()))
        assert access_control(client, org, first["id"]) is True
        assert access_control(client, org, second["id"]) is True
        assert audit_actions(client, org, first["id"])[0] == "charging_group.updated"

    def test_deactivating_one_under_scope_all_keeps_all_the_others(
        self, client: TestClient, org: Org
    ) -> None:
        sites = [make_site(client, org, connectors=n) for n in (1, 2, 3)]
        group = create_user_group(client, org, activation={"scope": "all"})
        dropped = sites[1]["group"]["id"]
        response = client.delete(
            f"/v1/user-groups/{group['id']}/charging-groups/{dropped}", headers=org.auth()
        )
        activation = ok(response)
        assert activation["scope"] == "custom"
        others = {sites[0]["group"]["id"], sites[2]["group"]["id"]}
        assert {item["id"] for item in activation["items"]} == others
        assert (activation["charging_group_count"], activation["connector_count"]) == (2, 4)

        make_site(client, org, connectors=5)  # scope is custom now: a new charging group is not included
        after = ok(client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth()))
        assert {item["id"] for item in after["items"]} == others
        (event, *_) = [
            e for e in group_history(client, org, group["id"]) if e["action"] == "activation.removed"
        ]
        assert event["old_values"]["charging_group_id"] == dropped
        assert event["old_values"]["scope"] == "all" and event["new_values"]["scope"] == "custom"

    def test_deactivating_under_custom(self, client: TestClient, org: Org) -> None:
        first = create_charging_group(client, org)
        second = create_charging_group(client, org)
        group = create_user_group(client, org, activation=custom(first["id"], second["id"]))
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        activation = ok(client.delete(f"{base}/{first['id']}", headers=org.auth()))
        assert [item["id"] for item in activation["items"]] == [second["id"]]
        events_before = len(group_history(client, org, group["id"]))
        again = ok(client.delete(f"{base}/{first['id']}", headers=org.auth()))  # not active: no change
        assert again == activation
        assert len(group_history(client, org, group["id"])) == events_before

    def test_a_change_answers_with_the_first_page_and_takes_no_paging(
        self, client: TestClient, org: Org
    ) -> None:
        first, second, third = (create_charging_group(client, org) for _ in range(3))
        group = create_user_group(client, org, activation=custom(first["id"]))
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        # `limit` is no parameter of a change (strict input: a 422 naming it); the answer is what
        # GET without parameters shows.
        paging = {"limit": 1}
        put_all = {"scope": "custom", "charging_group_ids": [first["id"], second["id"], third["id"]]}
        refused = client.put(base, params=paging, json=put_all, headers=org.auth())
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "limit"
        replaced = ok(client.put(base, json=put_all, headers=org.auth()))
        assert replaced == ok(client.get(base, headers=org.auth()))
        assert len(replaced["items"]) == 3 and replaced["next_cursor"] is None
        removed = ok(client.delete(f"{base}/{third['id']}", headers=org.auth()))
        assert removed == ok(client.get(base, headers=org.auth()))
        assert {item["id"] for item in removed["items"]} == {first["id"], second["id"]}
        added = ok(client.put(f"{base}/{third['id']}", headers=org.auth()))
        assert added == ok(client.get(base, headers=org.auth())) and len(added["items"]) == 3
        assert ok(client.get(base, params=paging, headers=org.auth()))["next_cursor"] is not None

    def test_unknown_charging_group_is_404(self, client: TestClient, org: Org, other_org: Org) -> None:
        group = create_user_group(client, org, activation={"scope": "all"})
        foreign = create_charging_group(client, other_org)
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        for charging_group_id in (str(uuid.uuid4()), foreign["id"]):
            for method in ("PUT", "DELETE"):
                response = client.request(method, f"{base}/{charging_group_id}", headers=org.auth())
                assert response.status_code == 404, (method, charging_group_id)
                assert response.json()["type"].endswith("/not-found")
        assert ok(client.get(base, headers=org.auth()))["scope"] == "all"
        assert access_control(client, other_org, foreign["id"]) is False

    def test_deleted_charging_group_leaves_the_activation(self, client: TestClient, org: Org) -> None:
        kept = make_site(client, org, connectors=1)["group"]
        gone = create_charging_group(client, org)
        group = create_user_group(client, org, activation=custom(kept["id"], gone["id"]))
        assert client.delete(f"/v1/charging-groups/{gone['id']}", headers=org.auth()).status_code == 204
        activation = ok(client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth()))
        assert [item["id"] for item in activation["items"]] == [kept["id"]]
        assert (activation["charging_group_count"], activation["connector_count"]) == (1, 1)

    def test_archived_group_refuses_activation_changes(self, client: TestClient, org: Org) -> None:
        cg = create_charging_group(client, org)
        other = create_charging_group(client, org)
        group = create_user_group(client, org, activation=custom(cg["id"]))
        archive(client, org, group["id"])
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        for method, path, body in (
            ("PUT", base, {"scope": "all"}),
            ("PUT", f"{base}/{other['id']}", None),
            ("DELETE", f"{base}/{cg['id']}", None),
        ):
            response = client.request(method, path, json=body, headers=org.auth())
            assert response.status_code == 409, (method, path)
            assert response.json()["type"].endswith("/group-archived")
        activation = ok(client.get(base, headers=org.auth()))
        assert activation["scope"] == "custom" and [i["id"] for i in activation["items"]] == [cg["id"]]
        assert access_control(client, org, other["id"]) is False

    def test_viewer_and_integration_cannot_change_activation(self, client: TestClient, org: Org) -> None:
        cg = create_charging_group(client, org)
        group = create_user_group(client, org)
        base = f"/v1/user-groups/{group['id']}/charging-groups"
        for role in (Role.viewer, Role.integration):
            assert client.put(f"{base}/{cg['id']}", headers=org.auth(role)).status_code == 403
            assert client.put(base, json={"scope": "all"}, headers=org.auth(role)).status_code == 403
        assert ok(client.get(base, headers=org.auth(Role.integration)))["items"] == []
        assert ok(client.get(base, headers=org.auth(Role.viewer)))["items"] == []
        assert access_control(client, org, cg["id"]) is False
