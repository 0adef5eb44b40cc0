"""Time as people read it: a new resource was created and last updated at the same instant."""

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Org, add_card, create_user_group, make_site, ok


def created_resources(client: TestClient, org: Org) -> dict[str, dict[str, Any]]:
    site = make_site(client, org, connectors=1)
    group = create_user_group(client, org, tariff={"currency": "EUR", "price_per_kwh": "0.30"})
    card = add_card(client, org, group["id"], "T1ME0001")
    ok(client.post(f"/v1/user-groups/{group['id']}/cards/bulk", json={"cards": [{"uid": "T1ME0002"}]},
                   headers=org.auth()), 201)  # fmt: skip
    bulk = ok(client.get("/v1/cards", params={"q": "T1ME0002"}, headers=org.auth()))["items"][0]
    return {
        "charging group": site["group"],
        "charge point": site["charge_point"],
        "connector": site["connectors"][0],
        "user group": group,
        "card": card,
        "card added in bulk": bulk,
    }


def test_updated_at_equals_created_at_on_creation(client: TestClient, org: Org) -> None:
    for what, resource in created_resources(client, org).items():
        assert resource["updated_at"] == resource["created_at"], what


def test_a_change_moves_updated_at_only(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    renamed = ok(client.patch(f"/v1/user-groups/{group['id']}", json={"name": "Renamed"}, headers=org.auth()))
    assert renamed["created_at"] == group["created_at"]
    assert datetime.fromisoformat(renamed["updated_at"]) > datetime.fromisoformat(renamed["created_at"])
