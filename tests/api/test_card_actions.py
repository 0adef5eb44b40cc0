"""Bulk card actions over HTTP: by ids or by filter, all or nothing, one audit record, retry-safe."""

import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import (
    Org,
    cards_of,
    group_history,
    insert_card,
    insert_cards,
    insert_site,
    insert_user_group,
    ok,
)

ACTIONS = "/v1/user-groups/{}/cards/actions"


def bulk_add(client: TestClient, org: Org, group_id: str, count: int, prefix: str = "BA") -> list[str]:
    insert_cards(
        client,
        org,
        group_id,
        [{"uid": f"{prefix}{index:08d}", "label": f"Guest {index}"} for index in range(count)],
    )
    return [card["id"] for card in cards_of(client, org, group_id)]


def act(client: TestClient, org: Org, group_id: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(ACTIONS.format(group_id), json=body, headers={**org.auth(), **headers})


def test_block_by_filter_then_unblock_by_ids_with_one_record_each(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    ids = bulk_add(client, org, group["id"], 300)
    result = ok(act(client, org, group["id"], {"action": "block", "filter": {}}))
    assert result["count"] == 300 and result["action"] == "block"
    assert all(card["blocked"] for card in cards_of(client, org, group["id"]))
    records = [e for e in group_history(client, org, group["id"]) if e["action"] == "cards.bulk_blocked"]
    assert len(records) == 1
    assert records[0]["new_values"]["count"] == 300
    assert {card["id"] for card in records[0]["new_values"]["cards"]} == set(ids)
    assert all(card["blocked"] is True for card in records[0]["new_values"]["cards"])
    assert all(card["blocked"] is False for card in records[0]["old_values"]["cards"])

    ok(act(client, org, group["id"], {"action": "unblock", "card_ids": ids[:10]}))
    unblocked = {card["id"] for card in cards_of(client, org, group["id"]) if not card["blocked"]}
    assert unblocked == set(ids[:10])
    card = ok(client.get(f"/v1/cards/{ids[20]}", headers=org.auth()))
    assert card["blocked"] is True and card["updated_at"] > card["created_at"]


def test_filter_selects_by_search_and_state(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    insert_card(client, org, group["id"], "AA01", label="Conference day 1")
    insert_card(client, org, group["id"], "AA02", label="Conference day 2", blocked=True)
    insert_card(client, org, group["id"], "AA03", label="Staff")
    body = {"action": "remove", "filter": {"q": "conference", "blocked": False}}
    assert ok(act(client, org, group["id"], body))["count"] == 1
    assert sorted(card["uid"] for card in cards_of(client, org, group["id"])) == ["AA02", "AA03"]
    removed = next(e for e in group_history(client, org, group["id"]) if e["action"] == "cards.bulk_removed")
    assert [card["uid"] for card in removed["old_values"]["cards"]] == ["AA01"]


def test_set_and_clear_validity(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    first = insert_card(client, org, group["id"], "VA01", valid_from="2026-01-01T00:00:00Z")
    second = insert_card(client, org, group["id"], "VA02")
    body = {
        "action": "set_validity",
        "card_ids": [first["id"], second["id"]],
        "valid_until": "2030-01-01T00:00:00Z",
    }
    ok(act(client, org, group["id"], body))
    first_now = ok(client.get(f"/v1/cards/{first['id']}", headers=org.auth()))
    assert first_now["valid_from"].startswith("2026-01-01") and first_now["valid_until"].startswith(
        "2030-01-01"
    )
    assert first_now["updated_at"] != first["updated_at"]
    ok(act(client, org, group["id"], {"action": "clear_validity", "card_ids": [first["id"]]}))
    cleared = ok(client.get(f"/v1/cards/{first['id']}", headers=org.auth()))
    assert cleared["valid_from"] is None and cleared["valid_until"] is None


def test_validity_that_would_end_before_it_starts_refuses_the_whole_request(
    client: TestClient, org: Org
) -> None:
    group = insert_user_group(client, org)
    late = insert_card(client, org, group["id"], "VB01", valid_from="2031-01-01T00:00:00Z")
    fine = insert_card(client, org, group["id"], "VB02")
    body = {
        "action": "set_validity",
        "card_ids": [fine["id"], late["id"]],
        "valid_until": "2030-01-01T00:00:00Z",
    }
    response = act(client, org, group["id"], body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/card-action-refused")
    assert [(e["field"], e["card_id"]) for e in problem["errors"]] == [("card_ids.1", late["id"])]
    assert ok(client.get(f"/v1/cards/{fine['id']}", headers=org.auth()))["valid_until"] is None


def test_every_refused_card_is_listed_and_nothing_changes(
    client: TestClient, org: Org, other_org: Org
) -> None:
    group = insert_user_group(client, org)
    elsewhere = insert_user_group(client, org)
    mine = insert_card(client, org, group["id"], "RF01")
    theirs = insert_card(client, org, elsewhere["id"], "RF02")
    foreign = insert_card(client, other_org, insert_user_group(client, other_org)["id"], "RF03")
    unknown = str(uuid.uuid4())
    ids = [mine["id"], theirs["id"], foreign["id"], unknown, mine["id"]]
    response = act(client, org, group["id"], {"action": "block", "card_ids": ids})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [
        ("card_ids.1", "not_in_group"),
        ("card_ids.2", "not_found"),
        ("card_ids.3", "not_found"),
        ("card_ids.4", "duplicate_in_request"),
    ]
    assert ok(client.get(f"/v1/cards/{mine['id']}", headers=org.auth()))["blocked"] is False
    assert not [e for e in group_history(client, org, group["id"]) if e["action"].startswith("cards.bulk_b")]


def test_move_writes_a_record_in_both_histories(client: TestClient, org: Org) -> None:
    source = insert_user_group(client, org)
    target = insert_user_group(client, org)
    ids = bulk_add(client, org, source["id"], 5, prefix="MV")
    body = {"action": "move", "card_ids": ids[:3], "target_user_group_id": target["id"]}
    assert ok(act(client, org, source["id"], body))["count"] == 3
    assert len(cards_of(client, org, target["id"])) == 3 and len(cards_of(client, org, source["id"])) == 2
    out = [e for e in group_history(client, org, source["id"]) if e["action"] == "cards.bulk_moved_out"]
    into = [e for e in group_history(client, org, target["id"]) if e["action"] == "cards.bulk_moved_in"]
    assert len(out) == 1 and len(into) == 1
    assert {c["user_group_id"] for c in into[0]["new_values"]["cards"]} == {target["id"]}


def test_move_into_an_archived_group_is_refused(client: TestClient, org: Org) -> None:
    source, target = insert_user_group(client, org), insert_user_group(client, org)
    card = insert_card(client, org, source["id"], "MA01")
    ok(client.post(f"/v1/user-groups/{target['id']}/archive", headers=org.auth()))
    body = {"action": "move", "card_ids": [card["id"]], "target_user_group_id": target["id"]}
    response = act(client, org, source["id"], body)
    assert response.status_code == 409 and response.json()["type"].endswith("/group-archived")


def test_inconsistent_requests_name_the_field(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"action": "block"}, "card_ids"),
        ({"action": "block", "card_ids": [str(uuid.uuid4())], "filter": {}}, "card_ids"),
        ({"action": "set_validity", "filter": {}}, "valid_until"),
        ({"action": "block", "filter": {}, "valid_from": "2030-01-01T00:00:00Z"}, "valid_from"),
        ({"action": "move", "filter": {}}, "target_user_group_id"),
        ({"action": "move", "filter": {}, "target_user_group_id": group["id"]}, "target_user_group_id"),
        ({"action": "explode", "filter": {}}, "action"),
        ({"action": "block", "card_ids": []}, "card_ids"),
    ]
    for body, field in cases:
        response = act(client, org, group["id"], body)
        assert response.status_code == 422, (body, response.text)
        assert field in {e["field"].split(".")[0] for e in response.json()["errors"]}, (body, response.json())


def test_retry_with_the_same_idempotency_key_changes_nothing_more(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    ids = bulk_add(client, org, group["id"], 4, prefix="ID")
    body = {"action": "remove", "card_ids": ids[:2]}
    first = act(client, org, group["id"], body, **{"Idempotency-Key": "remove-2"})
    again = act(client, org, group["id"], body, **{"Idempotency-Key": "remove-2"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert (
        len([e for e in group_history(client, org, group["id"]) if e["action"] == "cards.bulk_removed"]) == 1
    )


def test_viewer_cannot_and_another_organization_gets_404(
    client: TestClient, org: Org, other_org: Org
) -> None:
    group = insert_user_group(client, org)
    body = {"action": "block", "filter": {}}
    assert (
        client.post(ACTIONS.format(group["id"]), json=body, headers=org.auth(Role.viewer)).status_code == 403
    )
    assert client.post(ACTIONS.format(group["id"]), json=body, headers=other_org.auth()).status_code == 404


def test_ten_thousand_cards_in_one_request(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org)
    cards = [{"uid": f"TK{index:08d}"} for index in range(10_000)]
    insert_cards(client, org, group["id"], cards)
    result = ok(
        act(
            client,
            org,
            group["id"],
            {"action": "set_validity", "filter": {}, "valid_until": "2030-01-01T00:00:00Z"},
        )
    )
    assert result["count"] == 10_000
    insert_card(client, org, group["id"], "TK99999999")
    response = act(client, org, group["id"], {"action": "block", "filter": {}})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "filter"


def test_the_ocpp_local_list_follows_a_bulk_action(client: TestClient, org: Org) -> None:
    site = insert_site(client, org, connectors=1)
    charging_group_id = site["group"]["id"]
    group = insert_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [charging_group_id]}
    )
    ids = bulk_add(client, org, group["id"], 3, prefix="LL")
    url = f"/v1/charging-groups/{charging_group_id}/local-list"

    def listed() -> tuple[int, dict[str, str]]:
        body = ok(client.get(url, headers=org.auth(Role.integration)))
        statuses = {
            item["idToken"]["idToken"]: item["idTokenInfo"]["status"]
            for item in body["ocpp201"]["localAuthorizationList"]
        }
        return body["list_version"], statuses

    version, before = listed()
    assert set(before.values()) == {"Accepted"} and len(before) == 3
    ok(act(client, org, group["id"], {"action": "block", "card_ids": ids[:2]}))
    blocked_version, after = listed()
    assert blocked_version > version
    assert sorted(after.values()) == ["Accepted", "Blocked", "Blocked"]
    ok(act(client, org, group["id"], {"action": "remove", "filter": {}}))
    removed_version, gone = listed()
    assert removed_version > blocked_version and gone == {}
