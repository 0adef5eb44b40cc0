"""Session reports: periods of the organization's time zone (across a DST change), per currency,
and totals equal to the sum of the exported sessions."""

import csv
import io
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.schemas.reports import SessionReport
from tests.factories import Org, insert_card, insert_session, insert_site, insert_user_group, ok

# Europe/Berlin moves from +01:00 to +02:00 at 2027-03-28T01:00:00Z (a Sunday).
SESSIONS = [
    # (card, started_at UTC, Berlin local day, meter Wh)
    ("EURO01", "2027-03-27T23:30:00Z", "2027-03-28", 10_000),  # the 27th in UTC, the 28th in Berlin (+01)
    ("EURO01", "2027-03-28T22:30:00Z", "2027-03-29", 5_500),  # 23:30 at +01, but 00:30 at +02: the 29th
    ("EURO02", "2027-03-29T10:00:00Z", "2027-03-29", 7_250),
    ("SWISS1", "2027-03-29T11:00:00Z", "2027-03-29", 12_345),
    ("NOTARIFF", "2027-03-29T12:00:00Z", "2027-03-29", 1_000),
    ("EURO01", "2027-03-31T22:30:00Z", "2027-04-01", 2_000),  # April in Berlin, March in UTC
]
RANGE = {"started_from": "2027-03-01T00:00:00+01:00", "started_until": "2027-05-01T00:00:00+02:00"}


@pytest.fixture
def world(client: TestClient, org: Org) -> dict[str, Any]:
    site = insert_site(client, org, connectors=1)
    everywhere = {"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    euro = insert_user_group(
        client,
        org,
        name="Hotel",
        tariff={"currency": "EUR", "price_per_kwh": "0.333", "session_fee": "0.50"},
        activation=everywhere,
    )
    swiss = insert_user_group(
        client, org, name="Zurich", tariff={"currency": "CHF", "price_per_kwh": "0.41"}, activation=everywhere
    )
    plain = insert_user_group(client, org, name="Staff", activation=everywhere)
    for uid, group in (("EURO01", euro), ("EURO02", euro), ("SWISS1", swiss), ("NOTARIFF", plain)):
        insert_card(client, org, group["id"], uid)
    connector = site["connectors"][0]["id"]
    for uid, started_at, _, meter in SESSIONS:
        started = insert_session(client, org, uid, connector, started_at)
        stop = {
            "meter_stop_wh": meter,
            "stopped_at": started_at.replace(":00:00Z", ":45:00Z").replace(":30:00Z", ":59:00Z"),
        }
        ok(client.post(f"/v1/sessions/{started['id']}/stop", json=stop, headers=org.auth(Role.integration)))
    ok(client.patch("/v1/organization", json={"time_zone": "Europe/Berlin"}, headers=org.auth()))
    return {"euro": euro, "swiss": swiss, "plain": plain, "site": site}


def report(client: TestClient, org: Org, **params: Any) -> Any:
    body = ok(client.get("/v1/sessions/report", params={**RANGE, **params}, headers=org.auth(Role.viewer)))
    # The answer is built without the model (for speed): it must still be exactly what the model says.
    assert SessionReport.model_validate(body).model_dump(mode="json") == body
    return body


def test_days_follow_berlin_across_the_dst_change(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    body = report(client, org, group_by="user_group", period="day")
    assert body["time_zone"] == "Europe/Berlin"
    hotel = [
        (r["period_start"], r["period_start_at"], r["session_count"])
        for r in body["rows"]
        if r["name"] == "Hotel"
    ]
    assert hotel == [
        ("2027-03-28", "2027-03-27T23:00:00Z", 1),
        ("2027-03-29", "2027-03-28T22:00:00Z", 2),
        ("2027-04-01", "2027-03-31T22:00:00Z", 1),
    ]


def test_weeks_and_months(client: TestClient, org: Org, world: dict[str, Any]) -> None:
    weeks = report(client, org, group_by="user_group", period="week")
    assert [(r["period_start"], r["session_count"]) for r in weeks["rows"] if r["name"] == "Hotel"] == [
        ("2027-03-22", 1),  # Sunday the 28th belongs to the week from Monday the 22nd
        ("2027-03-29", 3),
    ]
    months = report(client, org, group_by="user_group", period="month")
    assert [(r["period_start"], r["session_count"]) for r in months["rows"] if r["name"] == "Hotel"] == [
        ("2027-03-01", 3),
        ("2027-04-01", 1),
    ]


def test_in_utc_the_same_sessions_fall_on_other_days(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    ok(client.patch("/v1/organization", json={"time_zone": "UTC"}, headers=org.auth()))
    body = report(client, org, group_by="user_group", period="month")
    assert [(r["period_start"], r["session_count"]) for r in body["rows"] if r["name"] == "Hotel"] == [
        ("2027-03-01", 4)
    ]


def test_money_per_currency_with_minor_units(client: TestClient, org: Org, world: dict[str, Any]) -> None:
    body = report(client, org, group_by="user_group", period="month")
    totals = {t["currency"]: t for t in body["totals"]}
    assert set(totals) == {"EUR", "CHF", None}
    # Hotel: 10 kWh, 5.5 kWh, 7.25 kWh, 2 kWh at 0.333 plus 0.50 each, each rounded to cents.
    expected_eur = sum(
        (Decimal(kwh) * Decimal("0.333") + Decimal("0.50")).quantize(Decimal("0.01"))
        for kwh in ("10", "5.5", "7.25", "2")
    )
    assert totals["EUR"]["cost"] == str(expected_eur) and totals["EUR"]["energy_kwh"] == "24.75"
    assert totals["CHF"]["cost"] == "5.06" and totals["CHF"]["session_count"] == 1
    assert totals[None]["cost"] is None and totals[None]["energy_kwh"] == "1"
    cards = report(client, org, group_by="card", period="month")
    assert {(r["uid"], r["period_start"]) for r in cards["rows"]} >= {
        ("EURO01", "2027-04-01"),
        ("SWISS1", "2027-03-01"),
    }
    charging = report(
        client, org, group_by="charging_group", period="month", user_group_id=world["swiss"]["id"]
    )
    assert [(r["id"], r["session_count"]) for r in charging["rows"]] == [(world["site"]["group"]["id"], 1)]


def test_totals_equal_the_sum_of_the_exported_sessions(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    for group_by in ("user_group", "charging_group", "card"):
        body = report(client, org, group_by=group_by, period="week")
        exported = client.get("/v1/sessions/export.csv", params=RANGE, headers=org.auth()).text
        sums: dict[str | None, list[Any]] = defaultdict(lambda: [0, Decimal(0), None])
        for row in csv.DictReader(io.StringIO(exported)):
            entry = sums[row["currency"] or None]
            entry[0] += 1
            entry[1] += Decimal(row["energy_kwh"] or 0)
            if row["cost"]:
                entry[2] = (entry[2] or Decimal(0)) + Decimal(row["cost"])
        assert {
            t["currency"]: (t["session_count"], Decimal(t["energy_kwh"]), t["cost"] and Decimal(t["cost"]))
            for t in body["totals"]
        } == {currency: tuple(values) for currency, values in sums.items()}
        by_rows: dict[str | None, int] = defaultdict(int)
        for row in body["rows"]:
            by_rows[row["currency"]] += row["session_count"]
        assert dict(by_rows) == {t["currency"]: t["session_count"] for t in body["totals"]}


def test_csv_has_the_rows(client: TestClient, org: Org, world: dict[str, Any]) -> None:
    params = {**RANGE, "group_by": "user_group", "period": "month"}
    response = client.get("/v1/sessions/report.csv", params=params, headers=org.auth())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    body = report(client, org, group_by="user_group", period="month")
    assert [(r["period_start"], r["name"], r["session_count"], r["cost"]) for r in lines] == [
        (r["period_start"], r["name"] or "", str(r["session_count"]), r["cost"] or "") for r in body["rows"]
    ]


def test_without_a_range_the_current_local_month(client: TestClient, org: Org) -> None:
    ok(client.patch("/v1/organization", json={"time_zone": "Pacific/Auckland"}, headers=org.auth()))
    body = ok(client.get("/v1/sessions/report", headers=org.auth()))
    started_from = datetime.fromisoformat(body["started_from"]).astimezone(ZoneInfo("Pacific/Auckland"))
    started_until = datetime.fromisoformat(body["started_until"]).astimezone(ZoneInfo("Pacific/Auckland"))
    now = datetime.now(ZoneInfo("Pacific/Auckland"))
    assert (started_from.day, started_from.hour, started_from.month) == (1, 0, now.month)
    assert (started_until.day, started_until.hour) == (1, 0) and started_from <= now < started_until
    assert body["rows"] == [] and body["totals"] == []


def test_bad_ranges_and_parameters(client: TestClient, org: Org) -> None:
    for params, field in (
        ({"started_from": "2027-03-01T00:00:00Z", "started_until": "2027-02-01T00:00:00Z"}, "started_until"),
        ({"started_from": "2020-01-01T00:00:00Z", "started_until": "2027-02-01T00:00:00Z"}, "started_until"),
        ({"started_until": "2027-02-01T00:00:00Z"}, "started_from"),
        ({"started_from": "2027-02-01T00:00:00Z"}, "started_until"),
        ({**RANGE, "period": "year"}, "period"),
        ({**RANGE, "group_by": "connector"}, "group_by"),
    ):
        response = client.get("/v1/sessions/report", params=params, headers=org.auth())
        assert response.status_code == 422, (params, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
