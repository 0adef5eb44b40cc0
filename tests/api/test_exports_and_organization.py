"""Card and audit CSV exports (round trip through the import), the organization's time zone, and
the user groups active on a charging group."""

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient

from app.enums import Role
from app.services.card_batches import CSV_COLUMNS
from tests.factories import Org, create_user_group, insert_card, insert_charging_group, insert_user_group, ok


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestCardExport:
    def test_a_groups_cards_go_back_in_through_the_import_unchanged(
        self, client: TestClient, org: Org
    ) -> None:
        group = insert_user_group(client, org)
        insert_card(client, org, group["id"], "EX01", label="=SUM(1)", printed_number="+49 123")
        insert_card(
            client,
            org,
            group["id"],
            "EX02",
            label="'@quoted",
            valid_from="2026-01-01T00:00:00Z",
            valid_until="2030-06-30T22:00:00+00:00",
            blocked=True,
        )
        insert_card(client, org, group["id"], "EX03")
        response = client.get(
            f"/v1/user-groups/{group['id']}/cards/export.csv", headers=org.auth(Role.viewer)
        )
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        exported = rows(response.text)
        assert [r["uid"] for r in exported] == ["EX01", "EX02", "EX03"]
        assert exported[0]["label"] == "'=SUM(1)" and exported[0]["printed_number"] == "'+49 123"
        assert exported[1]["label"] == "''@quoted" and exported[1]["blocked"] == "true"

        # Into a new group: the import takes the file as it is, and the cards read as before.
        before = ok(client.get(f"/v1/user-groups/{group['id']}/cards", headers=org.auth()))["items"]
        ok(
            client.post(
                f"/v1/user-groups/{group['id']}/cards/actions",
                json={"action": "remove", "filter": {}},
                headers=org.auth(),
            )
        )
        target = insert_user_group(client, org)
        imported = client.post(
            f"/v1/user-groups/{target['id']}/cards/import",
            files={"file": ("cards.csv", response.content, "text/csv")},
            headers=org.auth(),
        )
        assert imported.status_code == 201, imported.text
        after = ok(client.get(f"/v1/user-groups/{target['id']}/cards", headers=org.auth()))["items"]
        fields = ("uid", "label", "printed_number", "valid_from", "valid_until", "blocked")
        assert sorted(tuple(c[f] for f in fields) for c in after) == sorted(
            tuple(c[f] for f in fields) for c in before
        )

    def test_organization_export_filters(self, client: TestClient, org: Org) -> None:
        first, second = insert_user_group(client, org), insert_user_group(client, org)
        insert_card(client, org, first["id"], "OE01", blocked=True)
        insert_card(client, org, first["id"], "OE02")
        insert_card(client, org, second["id"], "OE03")
        everything = rows(client.get("/v1/cards/export.csv", headers=org.auth()).text)
        assert [r["uid"] for r in everything] == ["OE01", "OE02", "OE03"]
        only = client.get(
            "/v1/cards/export.csv",
            params={"user_group_id": first["id"], "blocked": "false"},
            headers=org.auth(),
        )
        assert [r["uid"] for r in rows(only.text)] == ["OE02"]

    def test_unknown_group_is_404_and_header_only_when_empty(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        group = insert_user_group(client, org)
        assert (
            client.get(
                f"/v1/user-groups/{group['id']}/cards/export.csv", headers=other_org.auth()
            ).status_code
            == 404
        )
        empty = client.get(f"/v1/user-groups/{group['id']}/cards/export.csv", headers=org.auth())
        # The import's columns (a card field added to CardCreate is a new column in both).
        assert empty.text.strip() == ",".join(f'"{column}"' for column in CSV_COLUMNS)
        assert CSV_COLUMNS[:2] == ("uid", "label") and "blocked" in CSV_COLUMNS


def test_audit_trail_as_csv(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org, name="=cmd|' /C calc'!A0")
    ok(client.patch(f"/v1/user-groups/{group['id']}", json={"name": "Guests"}, headers=org.auth()))
    response = client.get(
        "/v1/audit-events/export.csv", params={"user_group_id": group["id"]}, headers=org.auth()
    )
    assert response.status_code == 200
    exported = rows(response.text)
    assert [r["action"] for r in exported] == ["user_group.created", "user_group.renamed"]
    renamed = json.loads(exported[1]["new_values"])
    assert renamed["name"] == "Guests"
    assert json.loads(exported[1]["old_values"])["name"] == "=cmd|' /C calc'!A0"
    listed = ok(client.get("/v1/audit-events", params={"user_group_id": group["id"]}, headers=org.auth()))[
        "items"
    ]
    assert sorted(r["id"] for r in exported) == sorted(e["id"] for e in listed)
    assert client.get("/v1/audit-events/export.csv", headers=org.auth(Role.integration)).status_code == 403


class TestOrganization:
    def test_time_zone_defaults_to_utc_and_the_admin_sets_it(self, client: TestClient, org: Org) -> None:
        assert ok(client.get("/v1/organization", headers=org.auth(Role.viewer)))["time_zone"] == "UTC"
        changed = ok(
            client.patch("/v1/organization", json={"time_zone": "Europe/Berlin"}, headers=org.auth())
        )
        assert changed["time_zone"] == "Europe/Berlin" and changed["name"] == org.name
        events = ok(
            client.get("/v1/audit-events", params={"entity_type": "organization"}, headers=org.auth())
        )
        (event,) = events["items"]
        # The first change creates the settings row: its record holds the whole row.
        assert event["old_values"] is None and event["new_values"] == {"time_zone": "Europe/Berlin"}
        ok(client.patch("/v1/organization", json={"time_zone": "America/New_York"}, headers=org.auth()))
        again = ok(client.get("/v1/audit-events", params={"entity_type": "organization"}, headers=org.auth()))
        assert again["items"][0]["old_values"] == {"time_zone": "Europe/Berlin"}

    def test_bad_zones_and_roles(self, client: TestClient, org: Org) -> None:
        for bad in ("Mars/Olympus", "", "../etc/passwd", "europe/berlin", 5):
            response = client.patch("/v1/organization", json={"time_zone": bad}, headers=org.auth())
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["errors"][0]["field"] == "time_zone"
        body = {"time_zone": "Europe/Berlin"}
        assert client.patch("/v1/organization", json=body, headers=org.auth(Role.operator)).status_code == 403
        assert ok(client.get("/v1/organization", headers=org.auth()))["time_zone"] == "UTC"


def test_user_groups_active_on_a_charging_group(client: TestClient, org: Org, other_org: Org) -> None:
    here, there = insert_charging_group(client, org), insert_charging_group(client, org)
    everywhere = insert_user_group(client, org, activation={"scope": "all"})
    custom = insert_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [here["id"]]}
    )
    insert_user_group(client, org, activation={"scope": "custom", "charging_group_ids": [there["id"]]})
    archived = insert_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [here["id"]]}
    )
    ok(client.post(f"/v1/user-groups/{archived['id']}/archive", headers=org.auth()))
    insert_card(client, org, custom["id"], "AG01")
    insert_card(client, org, custom["id"], "AG02")
    url = f"/v1/charging-groups/{here['id']}/user-groups"
    listed: dict[str, Any] = ok(client.get(url, headers=org.auth(Role.integration)))
    assert [(g["id"], g["activation_scope"], g["card_count"]) for g in listed["items"]] == [
        (custom["id"], "custom", 2),
        (everywhere["id"], "all", 0),
    ]
    first = ok(client.get(url, params={"limit": 1}, headers=org.auth()))
    second = ok(client.get(url, params={"limit": 1, "cursor": first["next_cursor"]}, headers=org.auth()))
    assert [g["id"] for g in first["items"] + second["items"]] == [custom["id"], everywhere["id"]]
    assert client.get(url, headers=other_org.auth()).status_code == 404
