"""User groups over HTTP: the creation wizard (preview + create), list, group page, rename,
delete, archive, restore, history, and who may do what."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import (
    Org,
    archive,
    create_charging_group,
    create_user_group,
    custom,
    group_history,
    insert_cards,
    make_site,
    ok,
    pages,
)

TARIFF = {"currency": "EUR", "price_per_kwh": "0.35", "session_fee": "1.50"}
ACTIONS = {"rename", "delete", "archive", "restore", "change_tariff", "change_activation", "add_cards"}


def get_group(client: TestClient, org: Org, group_id: str) -> dict[str, Any]:
    return ok(client.get(f"/v1/user-groups/{group_id}", headers=org.auth()))  # type: ignore[no-any-return]


def list_groups(client: TestClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    return ok(client.get("/v1/user-groups", params=params, headers=org.auth()))["items"]  # type: ignore[no-any-return]


def audit_trail(client: TestClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    return ok(  # type: ignore[no-any-return]
        client.get("/v1/audit-events", params={"limit": 200, **params}, headers=org.auth())
    )["items"]


class TestCreate:
    def test_created_with_location_etag_and_trimmed_name(self, client: TestClient, org: Org) -> None:
        response = client.post("/v1/user-groups", json={"name": "  Hotel guests  "}, headers=org.auth())
        created = ok(response, 201)
        assert created["name"] == "Hotel guests"
        assert created["type"] == "cards_only"
        assert created["status"] == "active" and created["archived_at"] is None
        assert created["tariff"] is None
        assert created["activation"] == {"scope": "custom", "charging_group_count": 0, "connector_count": 0}
        assert created["cards"] == {"count": 0}
        assert created["session_count"] == 0
        uuid.UUID(created["id"])
        assert response.headers["location"] == f"/v1/user-groups/{created['id']}"
        assert response.headers["etag"]

        got = client.get(response.headers["location"], headers=org.auth(Role.viewer))
        assert ok(got) == created
        assert got.headers["etag"] == response.headers["etag"]

    def test_with_tariff_and_custom_activation(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)
        second = make_site(client, org, connectors=3)
        make_site(client, org, connectors=4)  # not chosen
        created = create_user_group(
            client,
            org,
            type="cards_only",
            tariff={**TARIFF, "currency": "eur"},
            activation=custom(first["group"]["id"], second["group"]["id"]),
        )
        assert created["activation"] == {"scope": "custom", "charging_group_count": 2, "connector_count": 5}
        tariff = created["tariff"]
        assert tariff["currency"] == "EUR"
        assert tariff["price_per_kwh"] == "0.35"
        assert tariff["session_fee"] == "1.50"
        assert tariff["parking_fee_per_hour"] is None and tariff["valid_until"] is None
        assert get_group(client, org, created["id"])["tariff"] == tariff

    def test_activation_on_the_whole_infrastructure(self, client: TestClient, org: Org) -> None:
        make_site(client, org, connectors=2)
        make_site(client, org, connectors=1)
        create_charging_group(client, org)  # no connectors yet
        created = create_user_group(client, org, activation={"scope": "all"})
        assert created["activation"] == {"scope": "all", "charging_group_count": 3, "connector_count": 3}

    def test_activation_switches_access_control_on(self, client: TestClient, org: Org) -> None:
        chosen = create_charging_group(client, org)
        other = create_charging_group(client, org)
        assert chosen["access_control"] is False
        create_user_group(client, org, activation=custom(chosen["id"]))
        url = "/v1/charging-groups/{}"
        assert ok(client.get(url.format(chosen["id"]), headers=org.auth()))["access_control"] is True
        assert ok(client.get(url.format(other["id"]), headers=org.auth()))["access_control"] is False
        events = audit_trail(client, org, entity_id=chosen["id"])
        assert [e["action"] for e in events] == ["charging_group.updated", "charging_group.created"]
        assert events[0]["old_values"]["access_control"] is False
        assert events[0]["new_values"]["access_control"] is True

    def test_name_unique_case_insensitively_within_organization(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        existing = create_user_group(client, org, name="Guests")
        for name in ("Guests", "  GUESTS ", "guests"):
            duplicate = client.post("/v1/user-groups", json={"name": name}, headers=org.auth())
            assert duplicate.status_code == 409, name
            body = duplicate.json()
            assert body["type"].endswith("/already-exists")
            assert body["field"] == "name"
            assert body["user_group_id"] == existing["id"]
        assert [g["id"] for g in list_groups(client, org, status="all")] == [existing["id"]]
        assert create_user_group(client, other_org, name="Guests")["name"] == "Guests"

    def test_archived_group_keeps_its_name_and_deleted_group_frees_it(
        self, client: TestClient, org: Org
    ) -> None:
        group = create_user_group(client, org, name="Seasonal")
        archive(client, org, group["id"])
        taken = client.post("/v1/user-groups", json={"name": "seasonal"}, headers=org.auth())
        assert taken.status_code == 409 and taken.json()["field"] == "name"
        assert client.delete(f"/v1/user-groups/{group['id']}", headers=org.auth()).status_code == 204
        assert create_user_group(client, org, name="seasonal")["name"] == "seasonal"

    def test_unknown_charging_groups_are_422_naming_the_field(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        mine = create_charging_group(client, org)
        foreign = create_charging_group(client, other_org)
        missing = str(uuid.uuid4())
        response = client.post(
            "/v1/user-groups",
            json={"name": "Guests", "activation": custom(mine["id"], foreign["id"], missing)},
            headers=org.auth(),
        )
        assert response.status_code == 422
        body = response.json()
        assert body["type"].endswith("/validation-error")
        assert {e["field"] for e in body["errors"]} == {"activation.charging_group_ids"}
        assert len(body["errors"]) == 2
        named = " ".join(e["msg"] for e in body["errors"])
        assert foreign["id"] in named and missing in named and mine["id"] not in named
        assert list_groups(client, org, status="all") == []
        got = ok(client.get(f"/v1/charging-groups/{mine['id']}", headers=org.auth()))
        assert got["access_control"] is False

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": ""}, "name"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": "tab\there"}, "name"),
            ({}, "name"),
            ({"name": "G", "type": "registered_users"}, "type"),
            ({"name": "G", "activation": {"scope": "everywhere"}}, "activation.scope"),
            (
                {"name": "G", "activation": {"scope": "all", "charging_group_ids": [str(uuid.uuid4())]}},
                "activation",
            ),
            ({"name": "G", "tariff": {"currency": "EUR"}}, "tariff.price_per_kwh"),
            ({"name": "G", "colour": "red"}, "colour"),
        ],
    )
    def test_invalid_body_is_422_naming_the_field(
        self, client: TestClient, org: Org, body: dict[str, Any], field: str
    ) -> None:
        response = client.post("/v1/user-groups", json=body, headers=org.auth())
        assert response.status_code == 422, response.text
        assert field in {e["field"] for e in response.json()["errors"]}
        assert list_groups(client, org, status="all") == []

    def test_duplicate_charging_group_ids_are_422(self, client: TestClient, org: Org) -> None:
        cg = create_charging_group(client, org)
        response = client.post(
            "/v1/user-groups",
            json={"name": "G", "activation": custom(cg["id"], cg["id"])},
            headers=org.auth(),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "activation"

    def test_name_of_100_characters_is_accepted(self, client: TestClient, org: Org) -> None:
        created = create_user_group(client, org, name="N" * 100)
        assert created["name"] == "N" * 100

    def test_name_of_100_characters_that_grows_when_case_folded(self, client: TestClient, org: Org) -> None:
        name = "Straße " + "ß" * 93
        assert len(name) == 100
        created = create_user_group(client, org, name=name)
        assert created["name"] == name
        same = "STRAßE " + "ß" * 93
        duplicate = client.post("/v1/user-groups", json={"name": same}, headers=org.auth())
        assert duplicate.status_code == 409

    def test_creation_is_one_audited_change(self, client: TestClient, org: Org) -> None:
        cg = create_charging_group(client, org, name="Garage")
        response = client.post(
            "/v1/user-groups",
            json={"name": "Audited", "tariff": TARIFF, "activation": custom(cg["id"])},
            headers={**org.auth(Role.operator), "X-Request-ID": "create-audited-1"},
        )
        created = ok(response, 201)
        events = group_history(client, org, created["id"])
        assert {e["action"] for e in events} == {"user_group.created", "charging_group.updated"}
        (event,) = [e for e in events if e["action"] == "user_group.created"]
        assert event["actor_name"] == "operator key"
        assert event["request_id"] == "create-audited-1"
        assert event["entity_id"] == created["id"] and event["user_group_id"] == created["id"]
        assert event["old_values"] is None
        new = event["new_values"]
        assert new["name"] == "Audited" and new["type"] == "cards_only"
        assert new["activation_scope"] == "custom"
        assert new["charging_groups"] == [{"id": cg["id"], "name": "Garage"}]
        assert new["tariff"]["currency"] == "EUR" and new["tariff"]["price_per_kwh"] == "0.35"

    def test_idempotency_key_replays_the_first_response(self, client: TestClient, org: Org) -> None:
        headers = {**org.auth(), "Idempotency-Key": "create-guests-1"}
        first = client.post("/v1/user-groups", json={"name": "Guests"}, headers=headers)
        again = client.post("/v1/user-groups", json={"name": "Guests"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
        assert len(list_groups(client, org)) == 1


class TestPreview:
    def test_returns_what_would_be_created(self, client: TestClient, org: Org) -> None:
        off = make_site(client, org, connectors=2)["group"]
        on = create_charging_group(client, org, access_control=True, location_label="Level 2")
        make_site(client, org, connectors=1)  # not chosen
        response = client.post(
            "/v1/user-groups/preview",
            json={
                "name": "  Summer guests ",
                "tariff": {**TARIFF, "currency": "chf", "parking_fee_per_hour": "2.00"},
                "activation": custom(off["id"], on["id"]),
            },
            headers=org.auth(),
        )
        preview = ok(response)
        assert preview["name"] == "Summer guests"
        assert preview["type"] == "cards_only"
        assert preview["tariff"] == {
            "currency": "CHF",
            "price_per_kwh": "0.35",
            "session_fee": "1.50",
            "parking_fee_per_hour": "2.00",
            "parking_grace_minutes": None,
        }
        assert preview["activation"] == {"scope": "custom", "charging_group_count": 2, "connector_count": 2}
        by_id = {cg["id"]: cg for cg in preview["charging_groups"]}
        assert set(by_id) == {off["id"], on["id"]}
        assert by_id[off["id"]]["connector_count"] == 2
        assert by_id[on["id"]]["connector_count"] == 0
        assert by_id[on["id"]]["location_label"] == "Level 2"
        assert by_id[on["id"]]["access_control"] is True
        assert preview["access_control_to_enable"] == [{"id": off["id"], "name": off["name"]}]

    def test_scope_all_counts_everything(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)["group"]
        second = create_charging_group(client, org, access_control=True)
        preview = ok(
            client.post(
                "/v1/user-groups/preview",
                json={"name": "Everywhere", "activation": {"scope": "all"}},
                headers=org.auth(),
            )
        )
        assert preview["activation"] == {"scope": "all", "charging_group_count": 2, "connector_count": 2}
        assert preview["tariff"] is None
        assert preview["access_control_to_enable"] == [{"id": first["id"], "name": first["name"]}]
        assert second["id"] not in {cg["id"] for cg in preview["access_control_to_enable"]}

    def test_has_no_side_effect(self, client: TestClient, org: Org) -> None:
        cg = create_charging_group(client, org)
        body: dict[str, Any] = {"name": "Preview only", "tariff": TARIFF, "activation": custom(cg["id"])}
        trail_before = audit_trail(client, org)
        for _ in range(2):
            ok(client.post("/v1/user-groups/preview", json=body, headers=org.auth()))
        assert list_groups(client, org, status="all") == []
        assert audit_trail(client, org) == trail_before
        got = ok(client.get(f"/v1/charging-groups/{cg['id']}", headers=org.auth()))
        assert got["access_control"] is False
        created = create_user_group(client, org, **body)  # the name was not reserved
        assert created["name"] == "Preview only"

    def test_money_reads_as_it_will_be_stored(self, client: TestClient, org: Org) -> None:
        tariff = {"currency": "EUR", "price_per_kwh": "0.350", "session_fee": "1E+1"}
        body: dict[str, Any] = {"name": "Same money", "tariff": tariff}
        preview = ok(client.post("/v1/user-groups/preview", json=body, headers=org.auth()))
        created = create_user_group(client, org, **body)
        assert created["tariff"]["price_per_kwh"] == "0.35" and created["tariff"]["session_fee"] == "10.00"
        assert preview["tariff"]["price_per_kwh"] == created["tariff"]["price_per_kwh"]
        assert preview["tariff"]["session_fee"] == created["tariff"]["session_fee"]

    def test_answers_with_the_errors_creation_would(self, client: TestClient, org: Org) -> None:
        create_user_group(client, org, name="Taken")
        taken = client.post("/v1/user-groups/preview", json={"name": " TAKEN "}, headers=org.auth())
        assert taken.status_code == 409
        assert taken.json()["field"] == "name"
        unknown = client.post(
            "/v1/user-groups/preview",
            json={"name": "Fresh", "activation": custom(str(uuid.uuid4()))},
            headers=org.auth(),
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "activation.charging_group_ids"
        invalid = client.post(
            "/v1/user-groups/preview",
            json={"name": "Fresh", "tariff": {"currency": "EUR", "price_per_kwh": 0.35}},
            headers=org.auth(),
        )
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["field"] == "tariff.price_per_kwh"
        viewer = client.post("/v1/user-groups/preview", json={"name": "Fresh"}, headers=org.auth(Role.viewer))
        assert viewer.status_code == 403


class TestList:
    def test_status_filter(self, client: TestClient, org: Org) -> None:
        first = create_user_group(client, org, name="First")
        second = create_user_group(client, org, name="Second")
        third = create_user_group(client, org, name="Third")
        archive(client, org, second["id"])

        def names(**params: Any) -> list[str]:
            return [g["name"] for g in list_groups(client, org, **params)]

        assert names() == ["Third", "First"]  # active by default, newest first
        assert names(status="active") == ["Third", "First"]
        assert names(status="archived") == ["Second"]
        assert names(status="all") == ["Third", "Second", "First"]
        (archived,) = list_groups(client, org, status="archived")
        assert archived["status"] == "archived" and archived["archived_at"] is not None
        bad = client.get("/v1/user-groups", params={"status": "deleted"}, headers=org.auth())
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "status"
        assert {first["id"], third["id"]} == {g["id"] for g in list_groups(client, org)}

    def test_type_filter(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        assert [g["id"] for g in list_groups(client, org, type="cards_only")] == [group["id"]]
        assert list_groups(client, org, type="cards_only")[0]["type"] == "cards_only"
        bad = client.get("/v1/user-groups", params={"type": "registered_users"}, headers=org.auth())
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "type"

    def test_search_by_name(self, client: TestClient, org: Org) -> None:
        create_user_group(client, org, name="Hotel Guests")
        create_user_group(client, org, name="Staff")
        create_user_group(client, org, name="guest cards 100%")
        archived = create_user_group(client, org, name="Old guests")
        archive(client, org, archived["id"])

        def names(q: str, **params: Any) -> set[str]:
            return {g["name"] for g in list_groups(client, org, q=q, **params)}

        assert names("GUEST") == {"Hotel Guests", "guest cards 100%"}
        assert names("guest", status="all") == {"Hotel Guests", "guest cards 100%", "Old guests"}
        assert names("staff") == {"Staff"}
        assert names("100%") == {"guest cards 100%"}
        assert names("%") == {"guest cards 100%"}  # a literal percent sign, not a wildcard
        assert names("_") == set()
        assert names("nobody") == set()

    def test_cursor_pagination_walks_every_item_once(self, client: TestClient, org: Org) -> None:
        created = [create_user_group(client, org)["id"] for _ in range(5)]
        seen: list[str] = []
        for page in pages(client, org, "/v1/user-groups", limit=2):
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
        assert seen == list(reversed(created))
        bad = client.get("/v1/user-groups", params={"cursor": "nonsense"}, headers=org.auth())
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "cursor"

    def test_each_item_has_counts_and_tariff_summary(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=2)
        make_site(client, org, connectors=3)
        custom_group = create_user_group(
            client,
            org,
            name="Custom",
            tariff={**TARIFF, "parking_fee_per_hour": "1.20", "parking_grace_minutes": 15},
            activation=custom(site["group"]["id"]),
        )
        insert_cards(client, org, custom_group["id"], ["AA01", "AA02", "AA03"])
        everywhere = create_user_group(client, org, name="Everywhere", activation={"scope": "all"})
        insert_cards(client, org, everywhere["id"], ["BB01"])
        create_user_group(client, org, name="Empty")

        items = {g["name"]: g for g in list_groups(client, org)}
        assert items["Custom"]["counts"] == {"charging_groups": 1, "connectors": 2, "cards": 3, "sessions": 0}
        assert items["Custom"]["activation_scope"] == "custom"
        assert items["Custom"]["tariff"] == {
            "currency": "EUR",
            "price_per_kwh": "0.35",
            "session_fee": "1.50",
            "parking_fee_per_hour": "1.20",
        }
        assert items["Everywhere"]["counts"] == {
            "charging_groups": 2,
            "connectors": 5,
            "cards": 1,
            "sessions": 0,
        }
        assert items["Everywhere"]["activation_scope"] == "all"
        assert items["Everywhere"]["tariff"] is None
        assert items["Empty"]["counts"] == {"charging_groups": 0, "connectors": 0, "cards": 0, "sessions": 0}

    def test_only_the_callers_organization(self, client: TestClient, org: Org, other_org: Org) -> None:
        create_user_group(client, org, name="Mine")
        assert list_groups(client, other_org, status="all") == []
        assert ok(client.get("/v1/user-groups", headers=other_org.auth()))["next_cursor"] is None


class TestGet:
    def test_three_boxes_and_allowed_actions(self, client: TestClient, org: Org) -> None:
        site = make_site(client, org, connectors=3)
        group = create_user_group(client, org, tariff=TARIFF, activation=custom(site["group"]["id"]))
        insert_cards(client, org, group["id"], ["CA01", "CA02"])
        page = get_group(client, org, group["id"])
        assert page["tariff"]["price_per_kwh"] == "0.35" and page["tariff"]["currency"] == "EUR"
        assert page["activation"] == {"scope": "custom", "charging_group_count": 1, "connector_count": 3}
        assert page["cards"] == {"count": 2}
        actions = page["allowed_actions"]
        assert set(actions) == ACTIONS
        for name in ACTIONS - {"restore"}:
            assert actions[name] == {"allowed": True, "reason": None}, name
        assert actions["restore"]["allowed"] is False
        assert "archived" in actions["restore"]["reason"]

    def test_archived_group_actions_each_with_a_reason(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        archived = archive(client, org, group["id"])
        assert archived["status"] == "archived" and archived["archived_at"] is not None
        page = get_group(client, org, group["id"])
        assert page == archived
        actions = page["allowed_actions"]
        for name in ("change_tariff", "add_cards", "change_activation", "archive"):
            assert actions[name]["allowed"] is False, name
            assert "archived" in actions[name]["reason"], name
        for name in ("restore", "rename", "delete"):
            assert actions[name] == {"allowed": True, "reason": None}, name

    def test_unknown_and_malformed_ids(self, client: TestClient, org: Org) -> None:
        missing = client.get(f"/v1/user-groups/{uuid.uuid4()}", headers=org.auth())
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("/not-found")
        malformed = client.get("/v1/user-groups/not-a-uuid", headers=org.auth())
        assert malformed.status_code == 422
        assert malformed.json()["errors"][0]["field"] == "user_group_id"


class TestRename:
    def test_rename_honours_if_match(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, name="Before")
        url = f"/v1/user-groups/{group['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        renamed = client.patch(url, json={"name": "  After  "}, headers={**org.auth(), "If-Match": etag})
        assert ok(renamed)["name"] == "After"
        assert renamed.headers["etag"] != etag
        assert client.get(url, headers=org.auth()).headers["etag"] == renamed.headers["etag"]

        stale = client.patch(url, json={"name": "Lost update"}, headers={**org.auth(), "If-Match": etag})
        assert stale.status_code == 412
        assert stale.json()["type"].endswith("/precondition-failed")
        assert get_group(client, org, group["id"])["name"] == "After"

        (event,) = [e for e in group_history(client, org, group["id"]) if e["action"] == "user_group.renamed"]
        assert event["old_values"] == {"name": "Before"} and event["new_values"] == {"name": "After"}

    def test_without_if_match_last_write_wins(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        assert ok(client.patch(url, json={"name": "One"}, headers=org.auth()))["name"] == "One"
        assert ok(client.patch(url, json={"name": "Two"}, headers=org.auth()))["name"] == "Two"

    def test_name_taken_case_insensitively_is_409(self, client: TestClient, org: Org) -> None:
        create_user_group(client, org, name="Staff")
        group = create_user_group(client, org, name="guests")
        url = f"/v1/user-groups/{group['id']}"
        taken = client.patch(url, json={"name": "STAFF"}, headers=org.auth())
        assert taken.status_code == 409 and taken.json()["field"] == "name"
        assert ok(client.patch(url, json={"name": "Guests"}, headers=org.auth()))["name"] == "Guests"

    def test_rename_allowed_when_archived(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, name="Old")
        archive(client, org, group["id"])
        renamed = ok(
            client.patch(f"/v1/user-groups/{group['id']}", json={"name": "Older"}, headers=org.auth())
        )
        assert renamed["name"] == "Older" and renamed["status"] == "archived"

    def test_invalid_name_is_422(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        for body in ({"name": ""}, {"name": "y" * 101}, {}, {"name": "ok", "status": "archived"}):
            response = client.patch(f"/v1/user-groups/{group['id']}", json=body, headers=org.auth())
            assert response.status_code == 422, body
        assert get_group(client, org, group["id"])["name"] == group["name"]


class TestDelete:
    def test_delete_removes_cards_and_activations_and_keeps_history(
        self, client: TestClient, org: Org
    ) -> None:
        site = make_site(client, org, connectors=2)
        group = create_user_group(
            client, org, name="Short-lived", tariff=TARIFF, activation=custom(site["group"]["id"])
        )
        card = ok(
            client.post(f"/v1/user-groups/{group['id']}/cards", json={"uid": "DE01"}, headers=org.auth()), 201
        )
        insert_cards(client, org, group["id"], ["DE02", "DE03"])
        url = f"/v1/user-groups/{group['id']}"

        deleted = client.delete(url, headers={**org.auth(), "X-Request-ID": "delete-group-1"})
        assert deleted.status_code == 204 and deleted.content == b""
        assert client.get(url, headers=org.auth()).status_code == 404
        assert client.get(f"{url}/charging-groups", headers=org.auth()).status_code == 404
        assert client.get(f"{url}/tariff", headers=org.auth()).status_code == 404
        assert client.get(f"{url}/cards", headers=org.auth()).status_code == 404
        assert client.get(f"/v1/cards/{card['id']}", headers=org.auth()).status_code == 404
        assert ok(client.get("/v1/cards", headers=org.auth()))["items"] == []
        assert list_groups(client, org, status="all") == []
        # The charging group itself stays, and the UIDs are free again.
        assert ok(client.get(f"/v1/charging-groups/{site['group']['id']}", headers=org.auth()))["id"]
        other = create_user_group(client, org, name="Short-lived")
        insert_cards(client, org, other["id"], ["DE01", "DE02", "DE03"])

        events = group_history(client, org, group["id"])
        assert events[0]["action"] == "user_group.deleted"
        assert events[0]["request_id"] == "delete-group-1"
        assert events[0]["actor_name"] == "admin key"
        assert events[0]["old_values"]["name"] == "Short-lived"
        assert events[0]["old_values"]["card_count"] == 3
        assert Decimal(events[0]["old_values"]["tariff"]["price_per_kwh"]) == Decimal("0.35")
        assert events[-1]["action"] == "user_group.created"
        assert {"card.added", "cards.bulk_added"} <= {e["action"] for e in events}
        assert all(e["user_group_id"] == group["id"] for e in events)

    def test_stale_if_match_is_412(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        client.patch(url, json={"name": "Changed"}, headers=org.auth())
        stale = client.delete(url, headers={**org.auth(), "If-Match": etag})
        assert stale.status_code == 412
        assert get_group(client, org, group["id"])["name"] == "Changed"
        current = client.get(url, headers=org.auth()).headers["etag"]
        assert client.delete(url, headers={**org.auth(), "If-Match": current}).status_code == 204

    def test_deleting_twice_is_404(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        assert client.delete(url, headers=org.auth()).status_code == 204
        assert client.delete(url, headers=org.auth()).status_code == 404
        assert [e["action"] for e in group_history(client, org, group["id"])] == [
            "user_group.deleted",
            "user_group.created",
        ]

    def test_archived_group_without_sessions_can_be_deleted(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        archive(client, org, group["id"])
        assert client.delete(f"/v1/user-groups/{group['id']}", headers=org.auth()).status_code == 204
        assert list_groups(client, org, status="all") == []


class TestArchiveAndRestore:
    def test_archive_twice_is_409(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        archive(client, org, group["id"])
        again = client.post(f"/v1/user-groups/{group['id']}/archive", headers=org.auth())
        assert again.status_code == 409
        assert again.json()["type"].endswith("/group-already-archived")
        assert [e["action"] for e in group_history(client, org, group["id"])].count(
            "user_group.archived"
        ) == 1

    def test_restore_when_not_archived_is_409(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        response = client.post(f"/v1/user-groups/{group['id']}/restore", headers=org.auth())
        assert response.status_code == 409
        assert response.json()["type"].endswith("/group-not-archived")
        assert get_group(client, org, group["id"])["status"] == "active"

    def test_restore_keeps_activation_tariff_and_cards(self, client: TestClient, org: Org) -> None:
        first = make_site(client, org, connectors=2)
        second = make_site(client, org, connectors=1)
        make_site(client, org, connectors=5)
        group = create_user_group(
            client,
            org,
            tariff=TARIFF,
            activation=custom(first["group"]["id"], second["group"]["id"]),
        )
        insert_cards(client, org, group["id"], ["RS01", "RS02"])
        before = get_group(client, org, group["id"])
        activation_before = ok(
            client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth())
        )

        archived = archive(client, org, group["id"])
        assert archived["activation"] == before["activation"]
        assert archived["cards"] == {"count": 2}
        restored = ok(client.post(f"/v1/user-groups/{group['id']}/restore", headers=org.auth()))
        assert restored["status"] == "active" and restored["archived_at"] is None
        assert restored["tariff"] == before["tariff"]
        assert restored["activation"] == {"scope": "custom", "charging_group_count": 2, "connector_count": 3}
        assert restored["cards"] == {"count": 2}
        assert restored["allowed_actions"]["add_cards"]["allowed"] is True
        activation_after = ok(
            client.get(f"/v1/user-groups/{group['id']}/charging-groups", headers=org.auth())
        )
        assert activation_after == activation_before
        actions = [e["action"] for e in group_history(client, org, group["id"])]
        assert actions[:2] == ["user_group.restored", "user_group.archived"]

    def test_archive_and_restore_honour_if_match(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        client.patch(url, json={"name": "Renamed"}, headers=org.auth())
        stale = client.post(f"{url}/archive", headers={**org.auth(), "If-Match": etag})
        assert stale.status_code == 412
        assert get_group(client, org, group["id"])["status"] == "active"
        current = client.get(url, headers=org.auth()).headers["etag"]
        archived = client.post(f"{url}/archive", headers={**org.auth(), "If-Match": current})
        assert archived.status_code == 200 and archived.headers["etag"] != current
        stale_restore = client.post(f"{url}/restore", headers={**org.auth(), "If-Match": current})
        assert stale_restore.status_code == 412
        restored = client.post(f"{url}/restore", headers={**org.auth(), "If-Match": archived.headers["etag"]})
        assert ok(restored)["status"] == "active"


class TestHistory:
    def test_newest_first_paginated_and_readable_on_its_own(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, name="Tracked")
        url = f"/v1/user-groups/{group['id']}"
        client.patch(url, json={"name": "Tracked 2"}, headers={**org.auth(), "X-Request-ID": "rename-1"})
        archive(client, org, group["id"])
        client.post(f"{url}/restore", headers=org.auth(Role.operator))

        seen: list[dict[str, Any]] = []
        for page in pages(client, org, f"{url}/history", limit=1, role=Role.viewer):
            assert len(page["items"]) <= 1
            seen += page["items"]
        assert [e["action"] for e in seen] == [
            "user_group.restored",
            "user_group.archived",
            "user_group.renamed",
            "user_group.created",
        ]
        assert len({e["id"] for e in seen}) == 4
        times = [e["created_at"] for e in seen]
        assert times == sorted(times, reverse=True)
        assert seen[0]["actor_name"] == "operator key" and seen[1]["actor_name"] == "admin key"
        assert seen[2]["request_id"] == "rename-1"
        assert seen[1]["old_values"]["status"] == "active" and seen[1]["new_values"]["status"] == "archived"
        assert seen[1]["new_values"]["name"] == "Tracked 2"
        assert all(e["request_id"] and e["actor_api_key_id"] for e in seen)

    def test_unknown_group_is_404(self, client: TestClient, org: Org) -> None:
        response = client.get(f"/v1/user-groups/{uuid.uuid4()}/history", headers=org.auth())
        assert response.status_code == 404


class TestAccess:
    def test_another_organizations_group_is_404_everywhere(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        cg = create_charging_group(client, org)
        group = create_user_group(client, org, name="Private", tariff=TARIFF, activation=custom(cg["id"]))
        insert_cards(client, org, group["id"], ["PR01"])
        foreign_cg = create_charging_group(client, other_org)
        url = f"/v1/user-groups/{group['id']}"
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", url, {}),
            ("PATCH", url, {"json": {"name": "Stolen"}}),
            ("POST", f"{url}/archive", {}),
            ("POST", f"{url}/restore", {}),
            ("GET", f"{url}/history", {}),
            ("GET", f"{url}/tariff", {}),
            ("GET", f"{url}/tariff/versions", {}),
            ("PUT", f"{url}/tariff", {"json": TARIFF}),
            ("DELETE", f"{url}/tariff", {}),
            ("GET", f"{url}/charging-groups", {}),
            ("PUT", f"{url}/charging-groups", {"json": {"scope": "all"}}),
            ("PUT", f"{url}/charging-groups/{foreign_cg['id']}", {}),
            ("DELETE", f"{url}/charging-groups/{cg['id']}", {}),
            ("GET", f"{url}/cards", {}),
            ("POST", f"{url}/cards", {"json": {"uid": "PR02"}}),
            ("POST", f"{url}/cards/bulk", {"json": {"cards": [{"uid": "PR03"}]}}),
            (
                "POST",
                f"{url}/cards/import",
                {"files": {"file": ("cards.csv", b"uid\nPR04\n", "text/csv")}},
            ),
            ("DELETE", url, {}),
        ]
        for method, path, kwargs in requests:
            response = client.request(method, path, headers=other_org.auth(), **kwargs)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["type"].endswith("/not-found"), (method, path)
        page = get_group(client, org, group["id"])
        assert page["name"] == "Private" and page["status"] == "active"
        assert page["cards"] == {"count": 1} and page["tariff"] is not None
        assert page["activation"]["charging_group_count"] == 1
        assert [e["action"] for e in audit_trail(client, other_org, user_group_id=group["id"])] == []

    def test_viewer_reads_but_cannot_write(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        viewer = org.auth(Role.viewer)
        for path in (url, f"{url}/history", "/v1/user-groups", f"{url}/charging-groups", f"{url}/cards"):
            assert client.get(path, headers=viewer).status_code == 200, path
        for method, path, body in (
            ("POST", "/v1/user-groups", {"name": "Viewer's"}),
            ("POST", "/v1/user-groups/preview", {"name": "Viewer's"}),
            ("PATCH", url, {"name": "Viewer's"}),
            ("POST", f"{url}/archive", None),
            ("POST", f"{url}/restore", None),
            ("PUT", f"{url}/tariff", TARIFF),
            ("PUT", f"{url}/charging-groups", {"scope": "all"}),
            ("POST", f"{url}/cards", {"uid": "VW01"}),
            ("DELETE", url, None),
        ):
            response = client.request(method, path, json=body, headers=viewer)
            assert response.status_code == 403, (method, path)
            assert response.json()["type"].endswith("/forbidden")
        page = get_group(client, org, group["id"])
        assert page["name"] == group["name"] and page["status"] == "active" and page["tariff"] is None

    def test_operator_manages_user_groups(self, client: TestClient, org: Org) -> None:
        headers = org.auth(Role.operator)
        created = ok(client.post("/v1/user-groups", json={"name": "By operator"}, headers=headers), 201)
        url = f"/v1/user-groups/{created['id']}"
        assert ok(client.post(f"{url}/archive", headers=headers))["status"] == "archived"
        assert client.delete(url, headers=headers).status_code == 204

    def test_integration_key_reads_but_does_not_manage(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}"
        integration = org.auth(Role.integration)
        for path in ("/v1/user-groups", url, f"{url}/history"):
            assert client.get(path, headers=integration).status_code == 200, path
        for method, path, body in (
            ("POST", "/v1/user-groups", {"name": "Integration's"}),
            ("POST", "/v1/user-groups/preview", {"name": "Integration's"}),
            ("PATCH", url, {"name": "Integration's"}),
            ("POST", f"{url}/archive", None),
            ("DELETE", url, None),
        ):
            response = client.request(method, path, json=body, headers=integration)
            assert response.status_code == 403, (method, path)
        assert [g["id"] for g in list_groups(client, org)] == [group["id"]]

    def test_anonymous_is_401(self, client: TestClient) -> None:
        assert client.get("/v1/user-groups").status_code == 401
        assert client.post("/v1/user-groups", json={"name": "x"}).status_code == 401
