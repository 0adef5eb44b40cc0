"""Unknown cards (refused UIDs kept per charging group, added to a group from the list) and the
learning mode of a user group, over HTTP."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.enums import Role
from app.services.unknown_cards import UNKNOWN_CARDS_KEPT, SightingBuffer
from tests.factories import (
    Org,
    add_card,
    all_items,
    archive,
    authorize,
    create_user_group,
    custom,
    group_history,
    make_site,
    ok,
)


def flush(client: TestClient) -> int:
    """What the background writer does every second, now."""
    buffer: SightingBuffer = client.app.state.unknown_cards  # type: ignore[attr-defined]
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    assert client.portal is not None
    return client.portal.call(buffer.flush, db)


def tap(client: TestClient, org: Org, uid: str, connector: dict[str, Any]) -> dict[str, Any]:
    return ok(authorize(client, org, uid, connector_id=connector["id"]))  # type: ignore[no-any-return]


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.fixture
def desk(client: TestClient, org: Org) -> dict[str, Any]:
    """Two access-controlled charging groups (a group active on both) and a free one."""
    reception, garage = make_site(client, org, connectors=1), make_site(client, org, connectors=1)
    group = create_user_group(client, org, activation=custom(reception["group"]["id"], garage["group"]["id"]))
    return {
        "group": group,
        "reception": reception["group"],
        "garage": garage["group"],
        "at_reception": reception["connectors"][0],
        "at_garage": garage["connectors"][0],
        "free": make_site(client, org, connectors=1)["connectors"][0],
    }


class TestUnknownCards:
    def test_refused_unknown_uids_are_listed_per_charging_group_newest_first(
        self, client: TestClient, org: Org, desk: dict[str, Any]
    ) -> None:
        for uid, connector in (
            ("04:aa:01", "at_reception"),
            ("04AA02", "at_garage"),
            ("04AA01", "at_reception"),
        ):
            assert tap(client, org, uid, desk[connector])["reason"] == "unknown_card"
        tap(client, org, "04AA03", desk["free"])  # free charging: nothing refused, nothing kept
        tap(client, org, "not a uid!", desk["at_reception"])  # never a card: not kept
        add_card(client, org, desk["group"]["id"], "04AA09")
        tap(client, org, "04AA09", desk["at_reception"])  # known
        flush(client)
        items = all_items(client, org, "/v1/unknown-cards", role=Role.viewer)
        assert [(i["uid"], i["charging_group_id"], i["seen_count"]) for i in items] == [
            ("04AA01", desk["reception"]["id"], 2),
            ("04AA02", desk["garage"]["id"], 1),
        ]
        assert items[0]["charging_group_name"] == desk["reception"]["name"]
        assert items[0]["first_seen_at"] < items[0]["last_seen_at"]
        at_garage = all_items(client, org, "/v1/unknown-cards", charging_group_id=desk["garage"]["id"])
        assert [i["uid"] for i in at_garage] == ["04AA02"]
        paged = ok(client.get("/v1/unknown-cards", params={"limit": 1}, headers=org.auth(Role.operator)))
        assert len(paged["items"]) == 1 and paged["next_cursor"]
        again = ok(client.get(f"/v1/unknown-cards/{items[1]['id']}", headers=org.auth()))
        assert again == items[1]

    def test_the_list_keeps_the_last_1000_of_each_organization(
        self, client: TestClient, org: Org, other_org: Org, desk: dict[str, Any]
    ) -> None:
        other = make_site(client, other_org, connectors=1)
        create_user_group(client, other_org, activation=custom(other["group"]["id"]))
        tap(client, other_org, "0BEEF1", other["connectors"][0])
        flush(client)
        # More sightings than are kept, in one batch (as a busy second of the hot path would be).
        buffer: SightingBuffer = client.app.state.unknown_cards  # type: ignore[attr-defined]
        start = datetime.now(UTC) - timedelta(seconds=5)
        for n in range(UNKNOWN_CARDS_KEPT + 5):
            buffer.note(
                org.id, f"AB{n:06d}", uuid.UUID(desk["garage"]["id"]), start + timedelta(milliseconds=n)
            )
        flush(client)
        tap(client, org, "0CAFE1", desk["at_reception"])  # the newest
        flush(client)
        items = all_items(client, org, "/v1/unknown-cards")
        assert len(items) == UNKNOWN_CARDS_KEPT
        assert items[0]["uid"] == "0CAFE1"
        kept = {i["uid"] for i in items}
        assert "AB000000" not in kept and "AB000005" not in kept and "AB000006" in kept
        assert f"AB{UNKNOWN_CARDS_KEPT + 4:06d}" in kept
        # The other organization keeps its own, and sees none of these.
        assert [i["uid"] for i in all_items(client, other_org, "/v1/unknown-cards")] == ["0BEEF1"]

    def test_an_unknown_card_is_added_to_a_group_from_the_list(
        self, client: TestClient, org: Org, desk: dict[str, Any]
    ) -> None:
        tap(client, org, "04BB01", desk["at_reception"])
        tap(client, org, "04BB01", desk["at_garage"])
        flush(client)
        entry = all_items(client, org, "/v1/unknown-cards")[0]
        response = client.post(
            f"/v1/unknown-cards/{entry['id']}/add-to-group",
            json={"user_group_id": desk["group"]["id"], "label": "Room 7"},
            headers={**org.auth(Role.operator), "Idempotency-Key": str(uuid.uuid4())},
        )
        card = ok(response, 201)
        assert (card["uid"], card["label"], card["user_group_id"]) == (
            "04BB01",
            "Room 7",
            desk["group"]["id"],
        )
        assert response.headers["Location"] == f"/v1/cards/{card['id']}"
        assert all_items(client, org, "/v1/unknown-cards") == []  # gone at both charging groups
        assert tap(client, org, "04BB01", desk["at_garage"])["status"] == "Accepted"
        added = [e for e in group_history(client, org, desk["group"]["id"]) if e["action"] == "card.added"]
        assert added[0]["entity_id"] == card["id"]
        assert added[0]["actor_name"] == "operator key"
        missing = client.post(
            f"/v1/unknown-cards/{entry['id']}/add-to-group",
            json={"user_group_id": desk["group"]["id"]},
            headers=org.auth(),
        )
        assert missing.status_code == 404

    def test_roles_and_other_organizations(
        self, client: TestClient, org: Org, other_org: Org, desk: dict[str, Any]
    ) -> None:
        tap(client, org, "04CC01", desk["at_reception"])
        flush(client)
        entry = all_items(client, org, "/v1/unknown-cards")[0]
        assert client.get("/v1/unknown-cards", headers=org.auth(Role.integration)).status_code == 403
        body = {"user_group_id": desk["group"]["id"]}
        for role in (Role.viewer, Role.integration):
            response = client.post(
                f"/v1/unknown-cards/{entry['id']}/add-to-group", json=body, headers=org.auth(role)
            )
            assert response.status_code == 403
        assert client.get(f"/v1/unknown-cards/{entry['id']}", headers=other_org.auth()).status_code == 404
        foreign = client.post(
            f"/v1/unknown-cards/{entry['id']}/add-to-group", json=body, headers=other_org.auth()
        )
        assert foreign.status_code == 404
        filtered = client.get(
            "/v1/unknown-cards",
            params={"charging_group_id": desk["reception"]["id"]},
            headers=other_org.auth(),
        )
        assert filtered.status_code == 404
        # Another organization's user group is not found either, and nothing is added.
        theirs = create_user_group(client, other_org)
        response = client.post(
            f"/v1/unknown-cards/{entry['id']}/add-to-group",
            json={"user_group_id": theirs["id"]},
            headers=org.auth(),
        )
        assert response.status_code == 404
        assert len(all_items(client, org, "/v1/unknown-cards")) == 1


class TestLearningMode:
    def test_unknown_uids_tapped_at_the_chosen_charging_groups_join_the_group(
        self, client: TestClient, org: Org, desk: dict[str, Any]
    ) -> None:
        group_id = desk["group"]["id"]
        path = f"/v1/user-groups/{group_id}/learning-mode"
        assert ok(client.get(path, headers=org.auth(Role.viewer)))["active"] is False
        ends = in_hours(2)
        mode = ok(
            client.put(
                path,
                json={"ends_at": ends, "charging_group_ids": [desk["reception"]["id"]]},
                headers=org.auth(Role.operator),
            )
        )
        assert mode["active"] is True
        assert [cg["id"] for cg in mode["charging_groups"]] == [desk["reception"]["id"]]
        learned = tap(client, org, "04:dd:01", desk["at_reception"])
        assert (learned["status"], learned["reason"], learned["user_group_id"]) == (
            "Accepted",
            "card_learned",
            group_id,
        )
        card = ok(client.get(f"/v1/cards/{learned['card_id']}", headers=org.auth()))
        assert (card["uid"], card["user_group_id"]) == ("04DD01", group_id)
        again = tap(client, org, "04DD01", desk["at_reception"])
        assert (again["reason"], again["card_id"]) == ("accepted", learned["card_id"])
        # Not at the garage: there the UID stays unknown (and is listed).
        assert tap(client, org, "04DD02", desk["at_garage"])["reason"] == "unknown_card"
        flush(client)
        assert [i["uid"] for i in all_items(client, org, "/v1/unknown-cards")] == ["04DD02"]
        history = group_history(client, org, group_id)
        record = next(e for e in history if e["action"] == "card.learned")
        assert record["entity_id"] == learned["card_id"]
        assert record["actor_name"] == "learning mode (key integration key)"
        assert record["new_values"]["uid"] == "04DD01"
        assert record["new_values"]["charging_group_id"] == desk["reception"]["id"]
        started = next(e for e in history if e["action"] == "learning_mode.started")
        assert started["new_values"]["charging_groups"] == [
            {"id": desk["reception"]["id"], "name": desk["reception"]["name"]}
        ]
        stopped = ok(client.delete(path, headers=org.auth()))
        assert stopped["active"] is False
        assert tap(client, org, "04DD03", desk["at_reception"])["reason"] == "unknown_card"
        assert group_history(client, org, group_id)[0]["action"] == "learning_mode.stopped"
        # Stopping again changes nothing and records nothing.
        ok(client.delete(path, headers=org.auth()))
        actions = [e["action"] for e in group_history(client, org, group_id)]
        assert actions.count("learning_mode.stopped") == 1

    def test_a_learned_card_is_decided_by_its_groups_rules(
        self, client: TestClient, org: Org, desk: dict[str, Any]
    ) -> None:
        group_id = desk["group"]["id"]
        plug = desk["at_reception"]["plug_type"]
        other_plug = next(p for p in ("type2", "ccs2", "chademo") if p != plug)
        ok(
            client.put(
                f"/v1/user-groups/{group_id}/rules",
                json={"allowed_plug_types": [other_plug]},
                headers=org.auth(),
            )
        )
        ok(
            client.put(
                f"/v1/user-groups/{group_id}/learning-mode",
                json={"ends_at": in_hours(1), "charging_group_ids": [desk["reception"]["id"]]},
                headers=org.auth(),
            )
        )
        learned = tap(client, org, "04DD10", desk["at_reception"])
        # Learned (it is a card of the group now), and refused by the group's connector rule.
        assert (learned["status"], learned["reason"]) == ("NotAllowedTypeEVSE", "connector_not_allowed")
        card = ok(client.get(f"/v1/cards/{learned['card_id']}", headers=org.auth()))
        assert card["user_group_id"] == group_id

    def test_learning_ends_at_its_end(self, client: TestClient, org: Org, desk: dict[str, Any]) -> None:
        path = f"/v1/user-groups/{desk['group']['id']}/learning-mode"
        ends = datetime.now(UTC) + timedelta(seconds=1.5)
        body = {"ends_at": ends.isoformat(), "charging_group_ids": [desk["garage"]["id"]]}
        ok(client.put(path, json=body, headers=org.auth()))
        assert tap(client, org, "04EE01", desk["at_garage"])["reason"] == "card_learned"
        time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
        assert tap(client, org, "04EE02", desk["at_garage"])["reason"] == "unknown_card"
        assert ok(client.get(path, headers=org.auth()))["active"] is False

    def test_the_window_and_the_charging_groups_are_checked(
        self, client: TestClient, org: Org, desk: dict[str, Any]
    ) -> None:
        path = f"/v1/user-groups/{desk['group']['id']}/learning-mode"
        reception = [desk["reception"]["id"]]
        for ends in (in_hours(-1), in_hours(24.1)):
            response = client.put(
                path, json={"ends_at": ends, "charging_group_ids": reception}, headers=org.auth()
            )
            assert response.status_code == 422
            assert response.json()["errors"][0]["loc"] == ["body", "ends_at"]
        free_group = ok(client.get(f"/v1/connectors/{desk['free']['id']}", headers=org.auth()))
        for ids in ([free_group["charging_group_id"]], [str(uuid.uuid4())]):
            response = client.put(
                path, json={"ends_at": in_hours(1), "charging_group_ids": ids}, headers=org.auth()
            )
            assert response.status_code == 422
            assert response.json()["errors"][0]["loc"] == ["body", "charging_group_ids"]
        # One learning group per charging group at a time.
        ok(
            client.put(
                path, json={"ends_at": in_hours(1), "charging_group_ids": reception}, headers=org.auth()
            )
        )
        rival = create_user_group(client, org, activation=custom(*reception))
        response = client.put(
            f"/v1/user-groups/{rival['id']}/learning-mode",
            json={"ends_at": in_hours(1), "charging_group_ids": reception},
            headers=org.auth(),
        )
        assert response.status_code == 409
        assert response.json()["type"].endswith("/learning-mode-taken")
        # An archived group learns nothing and cannot start learning.
        archive(client, org, desk["group"]["id"])
        assert tap(client, org, "04FF01", desk["at_reception"])["reason"] == "unknown_card"
        response = client.put(
            path, json={"ends_at": in_hours(1), "charging_group_ids": reception}, headers=org.auth()
        )
        assert response.status_code == 409

    def test_roles_and_other_organizations(
        self, client: TestClient, org: Org, other_org: Org, desk: dict[str, Any]
    ) -> None:
        path = f"/v1/user-groups/{desk['group']['id']}/learning-mode"
        body = {"ends_at": in_hours(1), "charging_group_ids": [desk["reception"]["id"]]}
        for role in (Role.viewer, Role.integration):
            assert client.put(path, json=body, headers=org.auth(role)).status_code == 403
            assert client.delete(path, headers=org.auth(role)).status_code == 403
        assert client.get(path, headers=org.auth(Role.integration)).status_code == 200  # reads user groups
        for call in (client.get, client.delete):
            assert call(path, headers=other_org.auth()).status_code == 404
        assert client.put(path, json=body, headers=other_org.auth()).status_code == 404
        # Their key at our connector is an unknown connector: nothing learned, nothing kept.
        ok(client.put(path, json=body, headers=org.auth()))
        assert (
            authorize(client, other_org, "04AB01", connector_id=desk["at_reception"]["id"]).status_code == 404
        )
