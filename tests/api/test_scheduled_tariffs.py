"""Tariff versions that start in the future: shown as upcoming, taken by sessions starting from
then on, replaceable and cancellable before they start."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org, insert_card, insert_site, insert_user_group, ok, start_session

NOW_TARIFF = {"currency": "EUR", "price_per_kwh": "0.30"}


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def put(client: TestClient, org: Org, group_id: str, **body: Any) -> Any:
    return client.put(f"/v1/user-groups/{group_id}/tariff", json=body, headers=org.auth())


def test_schedule_shows_current_and_upcoming_and_sessions_take_the_version_at_their_start(
    client: TestClient, org: Org
) -> None:
    site = insert_site(client, org, connectors=1)
    group = insert_user_group(
        client,
        org,
        tariff=NOW_TARIFF,
        activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]},
    )
    insert_card(client, org, group["id"], "ST01")
    starts = later(30)
    scheduled = ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from=starts))
    assert scheduled["valid_from"].startswith(starts[:19])
    current = ok(client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth(Role.viewer)))
    assert current["price_per_kwh"] == "0.30" and current["valid_until"].startswith(starts[:19])
    upcoming = ok(client.get(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth(Role.viewer)))
    assert upcoming["id"] == scheduled["id"] and upcoming["valid_until"] is None
    page = ok(client.get(f"/v1/user-groups/{group['id']}", headers=org.auth()))
    assert page["tariff"]["price_per_kwh"] == "0.30" and page["upcoming_tariff"]["price_per_kwh"] == "0.45"
    listed = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
    assert next(g for g in listed if g["id"] == group["id"])["tariff"]["price_per_kwh"] == "0.30"

    connector = site["connectors"][0]["id"]
    before = ok(start_session(client, org, "ST01", connector, later(29)), 201)
    after = ok(start_session(client, org, "ST01", connector, later(31)), 201)
    assert before["tariff_snapshot"]["price_per_kwh"] == "0.30"
    assert after["tariff_snapshot"]["price_per_kwh"] == "0.45"
    assert after["tariff_version_id"] == scheduled["id"]
    # A session already documented with it: the upcoming version can no longer be withdrawn.
    refused = client.delete(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth())
    assert refused.status_code == 409, refused.text
    records = ok(client.get(f"/v1/user-groups/{group['id']}/history", headers=org.auth()))["items"]
    assert "tariff.scheduled" in [record["action"] for record in records]


def test_cancel_restores_the_current_version_and_is_audited(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org, tariff=NOW_TARIFF)
    ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from=later(10)))
    cancel = client.delete(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth())
    assert cancel.status_code == 204, cancel.text
    assert ok(client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()))["valid_until"] is None
    missing = client.get(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth())
    assert missing.status_code == 404 and missing.json()["type"].endswith("/upcoming-tariff-not-set")
    again = client.delete(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth())
    assert again.status_code == 404
    record = ok(client.get(f"/v1/user-groups/{group['id']}/history", headers=org.auth()))["items"][0]
    assert record["action"] == "tariff.cancelled"
    assert record["old_values"]["price_per_kwh"] == "0.45"
    assert record["new_values"]["previous_version"]["valid_until"] is None
    versions = ok(client.get(f"/v1/user-groups/{group['id']}/tariff/versions", headers=org.auth()))["items"]
    assert [v["price_per_kwh"] for v in versions] == ["0.30"]


def test_a_new_schedule_replaces_the_upcoming_one_and_an_immediate_change_keeps_it(
    client: TestClient, org: Org
) -> None:
    group = insert_user_group(client, org, tariff=NOW_TARIFF)
    ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from=later(10)))
    second_start = later(20)
    ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.50", valid_from=second_start))
    upcoming = ok(client.get(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth()))
    assert upcoming["price_per_kwh"] == "0.50"
    ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.35"))
    current = ok(client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()))
    assert current["price_per_kwh"] == "0.35" and current["valid_until"].startswith(second_start[:19])
    assert (
        ok(client.get(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth()))["id"]
        == upcoming["id"]
    )
    versions = ok(client.get(f"/v1/user-groups/{group['id']}/tariff/versions", headers=org.auth()))["items"]
    assert sorted(v["price_per_kwh"] for v in versions) == ["0.30", "0.35", "0.50"]


def test_removing_the_tariff_keeps_the_upcoming_version(client: TestClient, org: Org) -> None:
    group = insert_user_group(client, org, tariff=NOW_TARIFF)
    ok(put(client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from=later(10)))
    assert client.delete(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()).status_code == 204
    assert client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()).status_code == 404
    assert (
        ok(client.get(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth()))["price_per_kwh"]
        == "0.45"
    )


def test_a_start_in_the_past_is_refused_and_archived_groups_cannot_schedule(
    client: TestClient, org: Org
) -> None:
    group = insert_user_group(client, org, tariff=NOW_TARIFF)
    response = put(
        client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from="2020-01-01T00:00:00Z"
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "valid_from"
    ok(client.post(f"/v1/user-groups/{group['id']}/archive", headers=org.auth()))
    refused = put(client, org, group["id"], currency="EUR", price_per_kwh="0.45", valid_from=later(3))
    assert refused.status_code == 409
    assert (
        client.delete(f"/v1/user-groups/{group['id']}/tariff/upcoming", headers=org.auth()).status_code == 409
    )
