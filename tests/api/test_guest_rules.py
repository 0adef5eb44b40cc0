"""The guest rules (issue 13): one decision-table test per row over HTTP, each asserted on
POST /v1/authorize and on POST /v1/authorize/explain (they must agree), on both databases."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.enums import Role, Weekday
from tests.factories import Org, add_card, authorize, create_user_group, make_site, ok, start_session, stop

UID = "04C0FFEE"
OTHER_UID = "04C0FFEF"


@dataclass
class World:
    client: TestClient
    org: Org
    group: dict[str, Any]
    card: dict[str, Any]
    other_card: dict[str, Any]
    connector: dict[str, Any]
    charging_group_id: str = ""

    def rules(self, **rules: Any) -> dict[str, Any]:
        response = self.client.put(
            f"/v1/user-groups/{self.group['id']}/rules", json=rules, headers=self.org.auth()
        )
        return ok(response)  # type: ignore[no-any-return]

    def session(
        self, uid: str = UID, ago: timedelta = timedelta(seconds=5), kwh: int | None = None
    ) -> "World":
        started = datetime.now(UTC) - ago
        body = ok(start_session(self.client, self.org, uid, self.connector["id"], started.isoformat()), 201)
        if kwh is not None:
            ok(stop(self.client, self.org, body["id"], kwh * 1000, started + timedelta(seconds=2)))
        return self


@pytest.fixture
def world(client: TestClient, org: Org) -> World:
    site = make_site(client, org, connectors=1)
    group = create_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    )
    return World(
        client,
        org,
        group,
        add_card(client, org, group["id"], UID),
        add_card(client, org, group["id"], OTHER_UID),
        site["connectors"][0],
        site["group"]["id"],
    )


def _local_minute(time_zone: str, shift: timedelta) -> str:
    local = (datetime.now(UTC) + shift).astimezone(ZoneInfo(time_zone))
    return f"{local.hour:02d}:{local.minute:02d}"


def _today(time_zone: str = "UTC") -> Weekday:
    return list(Weekday)[datetime.now(UTC).astimezone(ZoneInfo(time_zone)).weekday()]


def _in_kiritimati(world: World) -> object:
    """UTC+14: a window that holds the time there is mostly not the time in UTC."""
    body = {"time_zone": "Pacific/Kiritimati"}
    return ok(world.client.patch("/v1/organization", json=body, headers=world.org.auth()))


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


# (name, arrange, reason, OCPP 2.0.1 status, OCPP 1.6 status): the README's decision table, row by row.
Case = tuple[str, Callable[[World], object], str, str, str]
HOUR = timedelta(hours=1)
CASES: list[Case] = [
    ("no rules", lambda w: None, "accepted", "Accepted", "Accepted"),
    ("group window ahead", lambda w: w.rules(group_valid_from=_iso(24 * HOUR)), "group_not_yet_valid",
     "Expired", "Expired"),
    ("group window over", lambda w: w.rules(group_valid_from=_iso(-48 * HOUR), group_valid_until=_iso(-HOUR)),
     "group_expired", "Expired", "Expired"),
    ("inside the group window", lambda w: w.rules(group_valid_from=_iso(-HOUR), group_valid_until=_iso(HOUR)),
     "accepted", "Accepted", "Accepted"),
    ("used up its hours after first use", lambda w: (w.rules(card_validity_hours=1), w.session(ago=2 * HOUR)),
     "card_expired_after_first_use", "Expired", "Expired"),
    ("first used within its hours", lambda w: (w.rules(card_validity_hours=24), w.session(ago=HOUR, kwh=1)),
     "accepted", "Accepted", "Accepted"),
    ("not on this weekday", lambda w: w.rules(allowed_weekdays=[d for d in Weekday if d != _today()]),
     "not_at_this_time", "NotAtThisTime", "Invalid"),
    ("on this weekday", lambda w: w.rules(allowed_weekdays=[_today()]), "accepted", "Accepted", "Accepted"),
    ("outside the hours, in the organization's zone",
     lambda w: (_in_kiritimati(w), w.rules(allowed_from=_local_minute("Pacific/Kiritimati", 2 * HOUR),
                                           allowed_until=_local_minute("Pacific/Kiritimati", 3 * HOUR))),
     "not_at_this_time", "NotAtThisTime", "Invalid"),
    ("inside the hours, in the organization's zone",
     lambda w: (_in_kiritimati(w), w.rules(allowed_from=_local_minute("Pacific/Kiritimati", -HOUR),
                                           allowed_until=_local_minute("Pacific/Kiritimati", HOUR))),
     "accepted", "Accepted", "Accepted"),
    ("plug type not allowed", lambda w: w.rules(allowed_plug_types=["ccs2", "chademo"]),
     "connector_not_allowed", "NotAllowedTypeEVSE", "Invalid"),
    ("connector too powerful", lambda w: w.rules(max_power_kw="11"), "connector_not_allowed",
     "NotAllowedTypeEVSE", "Invalid"),
    ("allowed plug and power", lambda w: w.rules(allowed_plug_types=["type2"], max_power_kw="22"),
     "accepted", "Accepted", "Accepted"),
    ("one session already running", lambda w: (w.rules(max_concurrent_sessions=1), w.session()),
     "concurrent_sessions", "ConcurrentTx", "ConcurrentTx"),
    ("running sessions below the limit", lambda w: (w.rules(max_concurrent_sessions=2), w.session()),
     "accepted", "Accepted", "Accepted"),
    ("card sessions used up", lambda w: (w.rules(quota_period="day", card_sessions=1), w.session(kwh=1)),
     "card_quota_used_up", "NoCredit", "Invalid"),
    ("card energy used up", lambda w: (w.rules(quota_period="week", card_energy_kwh="5"), w.session(kwh=6)),
     "card_quota_used_up", "NoCredit", "Invalid"),
    ("group sessions used up by another card",
     lambda w: (w.rules(quota_period="month", group_sessions=1), w.session(OTHER_UID, kwh=1)),
     "group_quota_used_up", "NoCredit", "Invalid"),
    ("group energy used up", lambda w: (w.rules(quota_period="day", group_energy_kwh="10"),
                                        w.session(OTHER_UID, kwh=4), w.session(kwh=6)),
     "group_quota_used_up", "NoCredit", "Invalid"),
    ("quota left", lambda w: (w.rules(quota_period="day", card_energy_kwh="30", card_sessions=3),
                              w.session(kwh=7)),
     "accepted", "Accepted", "Accepted"),
    ("the first failing rule in the table's order decides",
     lambda w: w.rules(group_valid_until=_iso(-HOUR), allowed_plug_types=["ccs2"], max_concurrent_sessions=1),
     "group_expired", "Expired", "Expired"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "arrange", "reason", "status", "ocpp16"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(
    world: World, name: str, arrange: Callable[[World], object], reason: str, status: str, ocpp16: str
) -> None:
    arrange(world)
    answer = ok(authorize(world.client, world.org, UID, connector_id=world.connector["id"]))
    assert (answer["reason"], answer["status"], answer["ocpp16_status"]) == (reason, status, ocpp16)
    # Explain agrees, by UID and by card id, for a viewer too, and names the check that decided.
    for card in ({"id_token": UID}, {"card_id": world.card["id"]}):
        explained = ok(
            world.client.post(
                "/v1/authorize/explain",
                json={**card, "connector_id": world.connector["id"]},
                headers=world.org.auth(Role.viewer),
            )
        )
        assert (explained["reason"], explained["status"], explained["ocpp16_status"]) == (
            reason,
            status,
            ocpp16,
        )
        assert explained["remaining"] == answer["remaining"]
        failed = [check for check in explained["rules"] if check["verdict"] == "failed"]
        if reason == "accepted":
            assert explained["decided_by"] is None and failed == []
        else:
            assert explained["decided_by"] == failed[0]["rule"] and failed[0]["reason"] == reason


def test_an_accepted_answer_says_what_the_quotas_leave(world: World) -> None:
    world.rules(quota_period="day", card_energy_kwh="30", card_sessions=3, group_sessions=10)
    world.session(kwh=7)
    world.session(OTHER_UID, kwh=2)
    answer = ok(authorize(world.client, world.org, UID, connector_id=world.connector["id"]))
    assert answer["remaining"] == {
        "period": "day",
        "card_energy_kwh": "23",
        "card_sessions": 2,
        "group_energy_kwh": None,
        "group_sessions": 8,
    }
    # Not to be cached: the next session changes it.
    assert datetime.fromisoformat(answer["cache_expires_at"]) <= datetime.now(UTC)


def test_a_session_start_applies_the_same_decision(world: World) -> None:
    world.rules(allowed_plug_types=["ccs2"])
    started = ok(
        start_session(world.client, world.org, UID, world.connector["id"], datetime.now(UTC).isoformat()), 201
    )
    assert (started["decision_status"], started["decision_reason"]) == (
        "NotAllowedTypeEVSE",
        "connector_not_allowed",
    )
    # A refused session is no use of the card: its clock does not start.
    assert (
        ok(world.client.get(f"/v1/cards/{world.card['id']}", headers=world.org.auth()))["first_used_at"]
        is None
    )


def test_first_use_starts_the_cards_clock_once(world: World) -> None:
    world.rules(card_validity_hours=24)
    first = datetime.now(UTC) - 3 * HOUR
    ok(start_session(world.client, world.org, UID, world.connector["id"], first.isoformat()), 201)
    ok(start_session(world.client, world.org, UID, world.connector["id"], (first + HOUR).isoformat()), 201)
    card = ok(world.client.get(f"/v1/cards/{world.card['id']}", headers=world.org.auth()))
    assert datetime.fromisoformat(card["first_used_at"]) == first
    assert datetime.fromisoformat(card["expires_at"]) == first + 24 * HOUR
    # Explain at a moment after the end: expired then; authorize now: still accepted.
    later = (first + 25 * HOUR).isoformat()
    explained = ok(
        world.client.post(
            "/v1/authorize/explain",
            json={"id_token": UID, "connector_id": world.connector["id"], "at": later},
            headers=world.org.auth(),
        )
    )
    assert explained["reason"] == "card_expired_after_first_use"
    assert (
        ok(authorize(world.client, world.org, UID, connector_id=world.connector["id"]))["reason"]
        == "accepted"
    )


class TestRuleSet:
    def test_set_replace_remove_versions_and_audit(self, world: World) -> None:
        client, org, group_id = world.client, world.org, world.group["id"]
        path = f"/v1/user-groups/{group_id}/rules"
        missing = client.get(path, headers=org.auth())
        assert missing.status_code == 404 and missing.json()["type"].endswith("/rules-not-set")
        first = world.rules(
            allowed_weekdays=["saturday", "monday"], allowed_from="22:00", allowed_until="06:00"
        )
        assert first["allowed_weekdays"] == ["monday", "saturday"] and first["allowed_until"] == "06:00"
        assert first["max_power_kw"] is None and first["valid_until"] is None
        read = client.get(path, headers=org.auth(Role.viewer))
        assert ok(read)["id"] == first["id"]
        stale = client.put(path, json={"max_power_kw": "11"}, headers={**org.auth(), "If-Match": '"stale"'})
        assert stale.status_code == 412
        second = ok(
            client.put(
                path, json={"max_power_kw": "11"}, headers={**org.auth(), "If-Match": read.headers["etag"]}
            )
        )
        assert second["max_power_kw"] == "11" and second["allowed_weekdays"] is None
        versions = ok(client.get(f"{path}/versions", headers=org.auth()))["items"]
        assert [v["id"] for v in versions] == [second["id"], first["id"]] and versions[1]["valid_until"]
        ok(client.delete(path, headers=org.auth()), 204)
        assert client.get(path, headers=org.auth()).status_code == 404
        assert client.delete(path, headers=org.auth()).status_code == 404
        actions = [
            e["action"]
            for e in ok(client.get("/v1/audit-events?entity_type=user_group_rules", headers=org.auth()))[
                "items"
            ]
        ]
        assert actions == ["user_group_rules.removed", "user_group_rules.set", "user_group_rules.set"]

    def test_refused_while_archived(self, world: World) -> None:
        world.rules(card_sessions=1, quota_period="day")
        ok(world.client.post(f"/v1/user-groups/{world.group['id']}/archive", headers=world.org.auth()))
        path = f"/v1/user-groups/{world.group['id']}/rules"
        for response in (
            world.client.put(path, json={"max_power_kw": "11"}, headers=world.org.auth()),
            world.client.delete(path, headers=world.org.auth()),
        ):
            assert response.status_code == 409 and response.json()["type"].endswith("/group-archived")

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ({}, "at least one rule"),
            ({"card_sessions": 2}, "quota_period"),
            ({"quota_period": "day"}, "quota_period"),
            ({"allowed_from": "08:00"}, "go together"),
            ({"allowed_from": "08:00", "allowed_until": "08:00"}, "differ"),
            (
                {"group_valid_from": "2030-01-02T00:00:00Z", "group_valid_until": "2030-01-01T00:00:00Z"},
                "after",
            ),
            ({"allowed_plug_types": ["steam"]}, ""),
            ({"max_concurrent_sessions": 0}, ""),
            ({"card_energy_kwh": 5}, ""),
        ],
    )
    def test_bad_rules_are_422(self, world: World, body: dict[str, Any], why: str) -> None:
        response = world.client.put(
            f"/v1/user-groups/{world.group['id']}/rules", json=body, headers=world.org.auth()
        )
        assert response.status_code == 422, response.text
        assert why in response.text

    def test_viewers_read_and_do_not_write(self, world: World) -> None:
        path = f"/v1/user-groups/{world.group['id']}/rules"
        assert (
            world.client.put(
                path, json={"max_power_kw": "11"}, headers=world.org.auth(Role.viewer)
            ).status_code
            == 403
        )


def test_explain_needs_a_dashboard_role_and_a_known_card_id(world: World) -> None:
    body = {"id_token": UID, "connector_id": world.connector["id"]}
    refused = world.client.post("/v1/authorize/explain", json=body, headers=world.org.auth(Role.integration))
    assert refused.status_code == 403
    unknown = world.client.post(
        "/v1/authorize/explain",
        json={"card_id": world.connector["id"], "connector_id": world.connector["id"]},
        headers=world.org.auth(),
    )
    assert unknown.status_code == 404
    both = world.client.post(
        "/v1/authorize/explain", json={**body, "card_id": world.card["id"]}, headers=world.org.auth()
    )
    assert both.status_code == 422


def test_the_group_window_is_on_the_local_lists_and_the_other_rules_are_not(world: World) -> None:
    path = f"/v1/charging-groups/{world.charging_group_id}/local-list?format=ocpp201"

    def listed() -> tuple[int, dict[str, Any]]:
        body = ok(world.client.get(path, headers=world.org.auth()))
        entries = {e["idToken"]["idToken"]: e for e in body["ocpp201"]["localAuthorizationList"]}
        return body["list_version"], entries

    version, entries = listed()
    assert entries[UID]["idTokenInfo"]["status"] == "Accepted"
    window = {"group_valid_from": _iso(-48 * HOUR), "group_valid_until": _iso(-HOUR)}
    world.rules(**window)
    expired_version, entries = listed()
    assert expired_version == version + 1 and entries[UID]["idTokenInfo"]["status"] == "Expired"
    # Rules a local list cannot say change no version (they apply online only).
    world.rules(**window, max_concurrent_sessions=1)
    assert listed()[0] == expired_version
    ok(world.client.delete(f"/v1/user-groups/{world.group['id']}/rules", headers=world.org.auth()), 204)
    back_version, entries = listed()
    assert back_version == expired_version + 1 and entries[UID]["idTokenInfo"]["status"] == "Accepted"
