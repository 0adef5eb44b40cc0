"""The card and session counts the list and the group page show are kept by the database as cards
and sessions are written (`user_group_counts`, migration 0014): every way a card comes, moves or
goes, and every session, changes them at once, and they equal the rows. (tests/conftest.py checks
the same for every group the whole suite wrote, at its end.)"""

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import (
    Org,
    add_card,
    cards_of,
    create_user_group,
    custom,
    make_site,
    ok,
    post_csv,
    start_session,
)

ACTIONS = "/v1/user-groups/{}/cards/actions"


def counts(client: TestClient, org: Org, group_id: str) -> tuple[int, int]:
    """(cards, sessions) as the group page and the list show them, which must agree."""
    page = ok(client.get(f"/v1/user-groups/{group_id}", headers=org.auth()))
    listed = ok(client.get("/v1/user-groups?status=all&limit=200", headers=org.auth()))
    item = next(item for item in listed["items"] if item["id"] == group_id)
    assert (item["counts"]["cards"], item["counts"]["sessions"]) == (
        page["cards"]["count"],
        page["session_count"],
    )
    return page["cards"]["count"], page["session_count"]


def act(client: TestClient, org: Org, group_id: str, body: dict[str, Any]) -> Any:
    return ok(client.post(ACTIONS.format(group_id), json=body, headers=org.auth()))


def test_every_card_write_moves_the_counts_at_once(client: TestClient, org: Org) -> None:
    source, target = create_user_group(client, org), create_user_group(client, org)
    assert counts(client, org, source["id"]) == (0, 0)

    one = add_card(client, org, source["id"], "CNT00001")
    bulk = {"cards": [{"uid": f"CNT1{index:04d}"} for index in range(40)]}
    ok(client.post(f"/v1/user-groups/{source['id']}/cards/bulk", json=bulk, headers=org.auth()), 201)
    ok(post_csv(client, org, source["id"], b"uid\nCNT20001\nCNT20002\n"), 201)
    assert counts(client, org, source["id"]) == (43, 0)

    moved = client.post(
        f"/v1/cards/{one['id']}/move", json={"user_group_id": target["id"]}, headers=org.auth()
    )
    ok(moved)
    ids = [card["id"] for card in cards_of(client, org, source["id"])]
    act(
        client,
        org,
        source["id"],
        {"action": "move", "card_ids": ids[:10], "target_user_group_id": target["id"]},
    )
    act(client, org, source["id"], {"action": "block", "card_ids": ids[10:20]})  # no move: counts stay
    assert (counts(client, org, source["id"]), counts(client, org, target["id"])) == ((32, 0), (11, 0))

    ok(client.delete(f"/v1/cards/{one['id']}", headers=org.auth()), 204)
    act(client, org, source["id"], {"action": "remove", "card_ids": ids[10:15]})
    assert (counts(client, org, source["id"]), counts(client, org, target["id"])) == ((27, 0), (10, 0))

    ok(client.delete(f"/v1/user-groups/{target['id']}", headers=org.auth()), 204)  # its 10 cards go too
    assert counts(client, org, source["id"]) == (27, 0)
    assert len(cards_of(client, org, source["id"])) == 27


def test_sessions_count_for_their_group_only(client: TestClient, org: Org) -> None:
    site = make_site(client, org, connectors=2)
    group = create_user_group(client, org, activation=custom(site["group"]["id"]))
    other = create_user_group(client, org)
    add_card(client, org, group["id"], "CNTS0001")
    add_card(client, org, other["id"], "CNTS0002")  # not active there: refused, still its group's
    connector = site["connectors"][0]["id"]
    ok(start_session(client, org, "CNTS0001", connector, "2026-11-01T10:00:00Z"), 201)
    ok(start_session(client, org, "CNTS0001", connector, "2026-11-01T12:00:00Z"), 201)
    refused = ok(
        start_session(client, org, "CNTS0002", site["connectors"][1]["id"], "2026-11-01T13:00:00Z"), 201
    )
    unknown = ok(start_session(client, org, "CNTS9999", connector, "2026-11-01T14:00:00Z"), 201)
    assert unknown["user_group_id"] is None
    assert counts(client, org, group["id"]) == (1, 2)
    assert counts(client, org, other["id"]) == (1, 1 if refused["user_group_id"] == other["id"] else 0)
    page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))
    assert page["allowed_actions"]["delete"]["allowed"] is False
