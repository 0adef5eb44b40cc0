from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import (
    Org,
    all_items,
    create_charge_point,
    create_charging_group,
    create_connector,
    make_site,
    ok,
)


class TestChargingGroups:
    def test_anonymous(self, client: TestClient) -> None:
        response = client.get("/v1/charging-groups")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    def test_create_read_update_delete(self, client: TestClient, org: Org) -> None:
        response = client.post(
            "/v1/charging-groups",
            json={"name": "  Car park  ", "location_label": "Level 1", "access_control": True},
            headers=org.auth(Role.integration),
        )
        created = ok(response, 201)
        assert created["name"] == "Car park"
        assert created["charge_point_count"] == 0 and created["connector_count"] == 0
        assert response.headers["location"] == f"/v1/charging-groups/{created['id']}"
        etag = response.headers["etag"]

        got = client.get(response.headers["location"], headers=org.auth(Role.viewer))
        assert ok(got)["access_control"] is True
        assert got.headers["etag"] == etag

        updated = client.patch(
            f"/v1/charging-groups/{created['id']}",
            json={"name": "Car park P1", "location_label": None},
            headers={**org.auth(), "If-Match": etag},
        )
        assert ok(updated)["name"] == "Car park P1"
        assert updated.json()["location_label"] is None
        assert updated.headers["etag"] != etag

        stale = client.patch(
            f"/v1/charging-groups/{created['id']}",
            json={"name": "Again"},
            headers={**org.auth(), "If-Match": etag},
        )
        assert stale.status_code == 412
        assert stale.json()["type"].endswith("/precondition-failed")

        deleted = client.delete(f"/v1/charging-groups/{created['id']}", headers=org.auth())
        assert deleted.status_code == 204
        assert client.get(response.headers["location"], headers=org.auth()).status_code == 404

    def test_counts_charge_points_and_connectors(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=3)
        extender = create_charge_point(client, org, site["group"]["id"], role="extender")
        create_connector(client, org, extender["id"], 1)
        group = ok(client.get(f"/v1/charging-groups/{site['group']['id']}", headers=org.auth()))
        assert group["charge_point_count"] == 2
        assert group["connector_count"] == 4
        listed = ok(client.get("/v1/charging-groups", headers=org.auth()))["items"]
        assert [(g["charge_point_count"], g["connector_count"]) for g in listed] == [(2, 4)]

    def test_name_unique_within_organization(self, client: TestClient, org: Org, other_org: Org) -> None:
        create_charging_group(client, org, name="Garage")
        duplicate = client.post("/v1/charging-groups", json={"name": "Garage"}, headers=org.auth())
        assert duplicate.status_code == 409
        assert duplicate.json()["field"] == "name"
        create_charging_group(client, other_org, name="Garage")

    def test_delete_refused_while_charge_points_exist(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org)
        response = client.delete(f"/v1/charging-groups/{site['group']['id']}", headers=org.auth())
        assert response.status_code == 409
        assert response.json()["type"].endswith("/charging-group-not-empty")

    def test_other_organization_gets_404(self, client: TestClient, org: Org, other_org: Org) -> None:
        group = create_charging_group(client, org)
        url = f"/v1/charging-groups/{group['id']}"
        assert client.get(url, headers=other_org.auth()).status_code == 404
        assert client.patch(url, json={"name": "x"}, headers=other_org.auth()).status_code == 404
        assert client.delete(url, headers=other_org.auth()).status_code == 404
        assert ok(client.get(url, headers=org.auth()))["name"] == group["name"]
        assert ok(client.get("/v1/charging-groups", headers=other_org.auth()))["items"] == []

    def test_viewer_cannot_write(self, client: TestClient, org: Org) -> None:
        response = client.post("/v1/charging-groups", json={"name": "x"}, headers=org.auth(Role.viewer))
        assert response.status_code == 403
        assert response.json()["type"].endswith("/forbidden")

    def test_pagination_walks_every_item_once(self, client: TestClient, org: Org) -> None:
        names = {create_charging_group(client, org)["name"] for _ in range(5)}
        seen = [item["name"] for item in all_items(client, org, "/v1/charging-groups", limit=2)]
        assert len(seen) == 5 and set(seen) == names

    def test_bad_cursor_is_422(self, client: TestClient, org: Org) -> None:
        response = client.get("/v1/charging-groups?cursor=nonsense", headers=org.auth())
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "cursor"

    def test_idempotency_key_replays_first_response(self, client: TestClient, org: Org) -> None:
        headers = {**org.auth(), "Idempotency-Key": "create-garage-1"}
        first = client.post("/v1/charging-groups", json={"name": "Garage"}, headers=headers)
        again = client.post("/v1/charging-groups", json={"name": "Garage"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert len(ok(client.get("/v1/charging-groups", headers=org.auth()))["items"]) == 1
        other_body = client.post("/v1/charging-groups", json={"name": "Other"}, headers=headers)
        assert other_body.status_code == 409
        assert other_body.json()["type"].endswith("/idempotency-key-reused")

    def test_changes_are_audited(self, client: TestClient, org: Org) -> None:
        group = create_charging_group(client, org, name="Audited")
        client.patch(f"/v1/charging-groups/{group['id']}", json={"access_control": True}, headers=org.auth())
        client.delete(f"/v1/charging-groups/{group['id']}", headers=org.auth())
        events = ok(
            client.get(
                "/v1/audit-events",
                params={"entity_id": group["id"]},
                headers={**org.auth(Role.viewer)},
            )
        )["items"]
        assert [e["action"] for e in events] == [
            "charging_group.deleted",
            "charging_group.updated",
            "charging_group.created",
        ]
        assert events[1]["old_values"] == {"access_control": False}
        assert events[1]["new_values"] == {"access_control": True}
        assert events[0]["old_values"]["name"] == "Audited"
        assert events[0]["actor_name"] == "admin key"
        assert all(e["request_id"] for e in events)


class TestChargePointsAndConnectors:
    def test_one_controller_per_charging_group(self, client: TestClient, org: Org) -> None:
        group = create_charging_group(client, org)
        create_charge_point(client, org, group["id"], role="controller")
        second = client.post(
            "/v1/charge-points",
            json={"charging_group_id": group["id"], "identity": "CP-X", "role": "controller"},
            headers=org.auth(),
        )
        assert second.status_code == 409
        assert second.json()["field"] == "role"

    def test_unknown_charging_group_is_422(self, client: TestClient, org: Org, other_org: Org) -> None:
        foreign = create_charging_group(client, other_org)
        response = client.post(
            "/v1/charge-points",
            json={"charging_group_id": foreign["id"], "identity": "CP-1"},
            headers=org.auth(),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "charging_group_id"

    def test_connector_evse_id_normalized_and_unique(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=0)
        cp = site["charge_point"]
        created = create_connector(client, org, cp["id"], 1, evse_id="de*abc*e1*1", max_power_kw="11.0")
        assert created["evse_id"] == "DE*ABC*E1*1"
        assert created["max_power_kw"] == "11"
        assert created["charging_group_id"] == site["group"]["id"]
        duplicate = client.post(
            "/v1/connectors",
            json={
                "charge_point_id": cp["id"],
                "connector_number": 2,
                "evse_id": "DE*ABC*E1*1",
                "plug_type": "ccs2",
                "max_power_kw": "50",
            },
            headers=org.auth(),
        )
        assert duplicate.status_code == 409
        same_number = client.post(
            "/v1/connectors",
            json={
                "charge_point_id": cp["id"],
                "connector_number": 1,
                "evse_id": "DE*ABC*E1*9",
                "plug_type": "ccs2",
                "max_power_kw": "50",
            },
            headers=org.auth(),
        )
        assert same_number.status_code == 409
        assert same_number.json()["field"] == "connector_number"

    def test_invalid_connector_fields_are_named(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=0)
        response = client.post(
            "/v1/connectors",
            json={
                "charge_point_id": site["charge_point"]["id"],
                "connector_number": 0,
                "evse_id": "bad id!",
                "plug_type": "steam",
                "max_power_kw": "-1",
            },
            headers=org.auth(),
        )
        assert response.status_code == 422
        fields = {error["field"] for error in response.json()["errors"]}
        assert fields == {"connector_number", "evse_id", "plug_type", "max_power_kw"}

    def test_deleting_charge_point_removes_its_connectors(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=2)
        response = client.delete(f"/v1/charge-points/{site['charge_point']['id']}", headers=org.auth())
        assert response.status_code == 204
        for connector in site["connectors"]:
            assert client.get(f"/v1/connectors/{connector['id']}", headers=org.auth()).status_code == 404
        group = ok(client.get(f"/v1/charging-groups/{site['group']['id']}", headers=org.auth()))
        assert (group["charge_point_count"], group["connector_count"]) == (0, 0)

    def test_filters(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)
        make_site(client, org, connectors=1)
        by_group = ok(
            client.get(
                "/v1/connectors",
                params={"charging_group_id": first["group"]["id"]},
                headers=org.auth(),
            )
        )["items"]
        assert {c["id"] for c in by_group} == {c["id"] for c in first["connectors"]}
        points = ok(
            client.get(
                "/v1/charge-points",
                params={"charging_group_id": first["group"]["id"]},
                headers=org.auth(Role.integration),
            )
        )["items"]
        assert [p["connector_count"] for p in points] == [2]

    def test_move_charge_point_and_update_connector(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=1)
        target = create_charging_group(client, org)
        moved = client.patch(
            f"/v1/charge-points/{site['charge_point']['id']}",
            json={"charging_group_id": target["id"]},
            headers=org.auth(),
        )
        assert ok(moved)["charging_group_id"] == target["id"]
        connector = site["connectors"][0]
        updated = ok(
            client.patch(f"/v1/connectors/{connector['id']}", json={"max_power_kw": 7.4}, headers=org.auth())
        )
        assert updated["max_power_kw"] == "7.4"
        assert updated["charging_group_id"] == target["id"]


def test_counters_follow_every_infrastructure_change(client: TestClient, org: Org) -> None:
    """User-group totals read the kept counters; they must equal what really exists."""
    first, second = make_site(client, org, connectors=3), make_site(client, org, connectors=1)
    ids = [first["group"]["id"], second["group"]["id"]]
    custom = ok(client.post("/v1/user-groups", json={"name": "Counted", "activation": {"scope": "custom",
                "charging_group_ids": ids}}, headers=org.auth()), 201)  # fmt: skip
    everywhere = ok(client.post("/v1/user-groups", json={"name": "All", "activation": {"scope": "all"}},
                                headers=org.auth()), 201)  # fmt: skip
    extender = create_charge_point(client, org, first["group"]["id"], role="extender")
    create_connector(client, org, extender["id"], 1)
    ok(
        client.patch(
            f"/v1/charge-points/{extender['id']}", json={"charging_group_id": ids[1]}, headers=org.auth()
        )
    )
    client.delete(f"/v1/connectors/{first['connectors'][0]['id']}", headers=org.auth())
    client.delete(f"/v1/charge-points/{second['charge_point']['id']}", headers=org.auth())
    create_charging_group(client, org)

    def real() -> tuple[int, int]:
        groups = ok(client.get("/v1/charging-groups", headers=org.auth()))["items"]
        return len(groups), sum(g["connector_count"] for g in groups)

    def activated(group: dict[str, str]) -> tuple[int, int]:
        page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))["activation"]
        return page["charging_group_count"], page["connector_count"]

    per_group = {
        g["id"]: g["connector_count"]
        for g in ok(client.get("/v1/charging-groups", headers=org.auth()))["items"]
    }
    assert activated(custom) == (2, per_group[ids[0]] + per_group[ids[1]]) == (2, 3)
    assert activated(everywhere) == real() == (3, 3)
