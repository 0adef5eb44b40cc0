"""The preview of every activation change: which charging groups leave free charging, how many
cards gain or lose access where, and nothing changed; over HTTP."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import (
    Org,
    add_card,
    archive,
    authorize,
    create_user_group,
    custom,
    group_history,
    make_site,
    ok,
)


@pytest.fixture
def world(client: TestClient, org: Org) -> dict[str, Any]:
    """A (access control on, the group active), C (another group active there, 2 cards), a group
    with scope all (1 card), then B, created afterwards with access control off (free charging)."""
    a, c = make_site(client, org, connectors=1), make_site(client, org, connectors=1)
    group = create_user_group(client, org, activation=custom(a["group"]["id"]))
    for n in range(3):
        add_card(client, org, group["id"], f"0A{n}{uuid.uuid4().hex[:6]}")
    other = create_user_group(client, org, activation=custom(c["group"]["id"]))
    other_cards = [add_card(client, org, other["id"], f"0C{n}{uuid.uuid4().hex[:6]}") for n in range(2)]
    everywhere = create_user_group(client, org, activation={"scope": "all"})
    add_card(client, org, everywhere["id"], f"0E{uuid.uuid4().hex[:6]}")
    b = make_site(client, org, connectors=1)
    assert b["group"]["access_control"] is False
    return {"group": group, "a": a, "b": b, "c": c, "other_card": other_cards[0], "everywhere": everywhere}


def preview(
    client: TestClient, org: Org, group_id: str, body: dict[str, Any], role: Role = Role.admin
) -> Any:
    return client.post(
        f"/v1/user-groups/{group_id}/charging-groups/preview", json=body, headers=org.auth(role)
    )


def impacts(answer: dict[str, Any]) -> dict[str, tuple[bool, bool, int, int]]:
    return {
        i["id"]: (
            i["access_control_before"],
            i["access_control_after"],
            i["cards_gaining_access"],
            i["cards_losing_access"],
        )
        for i in answer["charging_groups"]
    }


def test_each_change_names_what_leaves_free_charging_and_who_gains_or_loses(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    group_id = world["group"]["id"]
    a, b, c = (world[k]["group"]["id"] for k in ("a", "b", "c"))
    activate_b = ok(preview(client, org, group_id, {"activate": b}, Role.operator))
    assert activate_b["leaving_free_charging"] == [{"id": b, "name": world["b"]["group"]["name"]}]
    # Before: anyone charged at B. After: this group's 3 cards and the scope-all group's card;
    # the other group's 2 cards lose access there.
    assert impacts(activate_b) == {b: (False, True, 0, 2)}
    assert (activate_b["scope_before"], activate_b["scope_after"]) == ("custom", "custom")
    assert impacts(ok(preview(client, org, group_id, {"activate": c}))) == {c: (True, True, 3, 0)}
    assert impacts(ok(preview(client, org, group_id, {"activate": a}))) == {}  # already active
    assert impacts(ok(preview(client, org, group_id, {"deactivate": a}))) == {a: (True, True, 0, 3)}
    replaced = ok(preview(client, org, group_id, {"replace": custom(b, c)}))
    assert impacts(replaced) == {a: (True, True, 0, 3), b: (False, True, 0, 2), c: (True, True, 3, 0)}
    assert [cg["id"] for cg in replaced["leaving_free_charging"]] == [b]


def test_a_preview_changes_nothing_and_the_change_does_what_it_said(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    group_id, b = world["group"]["id"], world["b"]["group"]["id"]
    activation = ok(client.get(f"/v1/user-groups/{group_id}/charging-groups", headers=org.auth()))
    history = group_history(client, org, group_id)
    ok(preview(client, org, group_id, {"activate": b}))
    assert ok(client.get(f"/v1/user-groups/{group_id}/charging-groups", headers=org.auth())) == activation
    assert group_history(client, org, group_id) == history
    assert ok(client.get(f"/v1/charging-groups/{b}", headers=org.auth()))["access_control"] is False
    connector = world["b"]["connectors"][0]["id"]
    assert (
        ok(authorize(client, org, world["other_card"]["uid"], connector_id=connector))["status"] == "Accepted"
    )
    ok(client.put(f"/v1/user-groups/{group_id}/charging-groups/{b}", headers=org.auth()))
    answer = ok(authorize(client, org, world["other_card"]["uid"], connector_id=connector))
    assert answer["status"] == "NotAtThisLocation"  # one of the 2 cards the preview said lose access


def test_under_scope_all_deactivating_one_makes_the_scope_custom(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    everywhere, b = world["everywhere"]["id"], world["b"]["group"]["id"]
    answer = ok(preview(client, org, everywhere, {"deactivate": b}))
    assert (answer["scope_before"], answer["scope_after"]) == ("all", "custom")
    assert impacts(answer) == {b: (False, False, 0, 0)}  # free charging there: nobody loses


def test_refused_as_the_change_would_be(
    client: TestClient, org: Org, other_org: Org, world: dict[str, Any]
) -> None:
    group_id = world["group"]["id"]
    response = preview(client, org, group_id, {"activate": str(uuid.uuid4())})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "activate"]
    response = preview(client, org, group_id, {"replace": custom(str(uuid.uuid4()))})
    assert response.status_code == 422
    both = {"activate": world["b"]["group"]["id"], "deactivate": world["a"]["group"]["id"]}
    assert preview(client, org, group_id, both).status_code == 422
    for role in (Role.viewer, Role.integration):
        assert (
            preview(client, org, group_id, {"activate": world["b"]["group"]["id"]}, role).status_code == 403
        )
    assert preview(client, other_org, group_id, {"activate": world["b"]["group"]["id"]}).status_code == 404
    # Another organization's charging group is unknown here.
    theirs = make_site(client, other_org, connectors=1)["group"]["id"]
    assert preview(client, org, group_id, {"activate": theirs}).status_code == 422
    archive(client, org, group_id)
    response = preview(client, org, group_id, {"activate": world["b"]["group"]["id"]})
    assert response.status_code == 409 and response.json()["type"].endswith("/group-archived")
