"""Session report values that differ between the two ways it is built: on PostgreSQL the database
writes the JSON (rounding and writing amounts in SQL), on SQLite Python buckets and writes it, and
the CSV goes through Python on both. The same literal answers are expected on either database, and
the JSON and CSV must agree on every shape: currencies with 0 and 3 minor units, amounts with
trailing zeros, a half-hour zone, names that JSON must escape."""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from app.schemas.reports import SessionReport
from tests.factories import Org, add_card, create_user_group, make_site, ok, start_session

TOKYO = 'Tokyo "Ginza" ☕ \\ 東京'
SESSIONS = [
    # (card, started_at UTC, meter Wh); the organization is in Asia/Kolkata (+05:30)
    ("YEN1", "2027-06-01T10:00:00Z", 7_250),  # 7.25 kWh x 30.5 = 221.125 -> JPY 221
    ("YEN1", "2027-06-02T10:00:00Z", 12_500),  # 381.25 -> 381
    ("YEN2", "2027-06-01T20:00:00Z", 10_000),  # 01:30 on the 2nd in Kolkata; 305
    ("KWD1", "2027-06-01T10:00:00Z", 5_500),  # 5.5 x 0.1234 = 0.6787 -> KWD 0.679
    ("KWD1", "2027-06-07T10:00:00Z", 10_000),  # Monday: the next week; 1.234
    ("FREE1", "2027-05-31T19:00:00Z", 1_000),  # 00:30 on June 1st in Kolkata; no tariff
    ("FREE1", "2027-05-31T18:00:00Z", 2_000),  # 23:30 on May 31st in Kolkata: outside the range
]
RANGE = {"started_from": "2027-06-01T00:00:00+05:30", "started_until": "2027-07-01T00:00:00+05:30"}
JUNE = ("2027-06-01", "2027-05-31T18:30:00Z")


@pytest.fixture
def world(client: TestClient, org: Org) -> dict[str, Any]:
    site = make_site(client, org, connectors=1)
    everywhere = {"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    yen = create_user_group(
        client, org, name=TOKYO, tariff={"currency": "JPY", "price_per_kwh": "30.5"}, activation=everywhere
    )
    dinar = create_user_group(
        client,
        org,
        name="Kuwait",
        tariff={"currency": "KWD", "price_per_kwh": "0.1234"},
        activation=everywhere,
    )
    free = create_user_group(client, org, name="Staff", activation=everywhere)
    cards = {}
    for uid, group, label in (
        ("YEN1", yen, "Zoë"),
        ("YEN2", yen, None),
        ("KWD1", dinar, "=SUM(A1)"),
        ("FREE1", free, None),
    ):
        cards[uid] = add_card(client, org, group["id"], uid, **({"label": label} if label else {}))
    connector = site["connectors"][0]["id"]
    transactions = []
    for uid, started_at, meter in SESSIONS:
        started = ok(start_session(client, org, uid, connector, started_at), 201)
        transactions.append(started["transaction_id"])
        stop = {"meter_stop_wh": meter, "stopped_at": started_at.replace(":00:00Z", ":50:00Z")}
        ok(client.post(f"/v1/sessions/{started['id']}/stop", json=stop, headers=org.auth(Role.integration)))
    ok(client.patch("/v1/organization", json={"time_zone": "Asia/Kolkata"}, headers=org.auth()))
    return {"yen": yen, "dinar": dinar, "free": free, "cards": cards, "transactions": transactions}


def report(client: TestClient, org: Org, **params: Any) -> Any:
    body = ok(client.get("/v1/sessions/report", params={**RANGE, **params}, headers=org.auth(Role.viewer)))
    assert SessionReport.model_validate(body).model_dump(mode="json") == body
    return body


def test_a_month_per_user_group_to_the_last_digit(
    client: TestClient, org: Org, world: dict[str, Any]
) -> None:
    body = report(client, org, group_by="user_group", period="month")
    assert (body["time_zone"], body["started_from"], body["started_until"]) == (
        "Asia/Kolkata",
        "2027-05-31T18:30:00Z",
        "2027-06-30T18:30:00Z",
    )
    row = {"period_start": JUNE[0], "period_start_at": JUNE[1], "uid": None}
    assert body["rows"] == [
        {**row, "id": world["dinar"]["id"], "name": "Kuwait", "currency": "KWD", "session_count": 2,
         "energy_kwh": "15.5", "cost": "1.913"},
        {**row, "id": world["free"]["id"], "name": "Staff", "currency": None, "session_count": 1,
         "energy_kwh": "1", "cost": None},
        {**row, "id": world["yen"]["id"], "name": TOKYO, "currency": "JPY", "session_count": 3,
         "energy_kwh": "29.75", "cost": "907"},
    ]  # fmt: skip
    assert body["totals"] == [
        {"currency": None, "session_count": 1, "energy_kwh": "1", "cost": None},
        {"currency": "JPY", "session_count": 3, "energy_kwh": "29.75", "cost": "907"},
        {"currency": "KWD", "session_count": 2, "energy_kwh": "15.5", "cost": "1.913"},
    ]


def test_days_per_card_in_a_half_hour_zone(client: TestClient, org: Org, world: dict[str, Any]) -> None:
    body = report(client, org, group_by="card", period="day")
    assert [
        (r["period_start"], r["period_start_at"], r["uid"], r["id"], r["name"], r["cost"])
        for r in body["rows"]
    ] == [
        ("2027-06-01", "2027-05-31T18:30:00Z", "FREE1", world["cards"]["FREE1"]["id"], None, None),
        ("2027-06-01", "2027-05-31T18:30:00Z", "KWD1", world["cards"]["KWD1"]["id"], "=SUM(A1)", "0.679"),
        ("2027-06-01", "2027-05-31T18:30:00Z", "YEN1", world["cards"]["YEN1"]["id"], "Zoë", "221"),
        ("2027-06-02", "2027-06-01T18:30:00Z", "YEN2", world["cards"]["YEN2"]["id"], None, "305"),
        ("2027-06-02", "2027-06-01T18:30:00Z", "YEN1", world["cards"]["YEN1"]["id"], "Zoë", "381"),
        ("2027-06-07", "2027-06-06T18:30:00Z", "KWD1", world["cards"]["KWD1"]["id"], "=SUM(A1)", "1.234"),
    ]


@pytest.mark.parametrize("group_by", ["user_group", "charging_group", "card"])
@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_json_and_csv_agree_on_every_shape(
    client: TestClient, org: Org, world: dict[str, Any], group_by: str, period: str
) -> None:
    body = report(client, org, group_by=group_by, period=period)
    params = {**RANGE, "group_by": group_by, "period": period}
    text = ok_text(client.get("/v1/sessions/report.csv", params=params, headers=org.auth()))
    lines = list(csv.DictReader(io.StringIO(text)))
    cells = ("period_start", "period_start_at", "id", "name", "uid", "currency", "session_count",
             "energy_kwh", "cost")  # fmt: skip
    expected = [{cell: "" if r[cell] is None else str(r[cell]) for cell in cells} for r in body["rows"]]
    # The CSV guards text a spreadsheet would run (a leading =) with a quote; the JSON does not.
    assert [{cell: line[cell].removeprefix("'") for cell in cells} for line in lines] == expected
    assert (
        sum(r["session_count"] for r in body["rows"]) == 6 == sum(t["session_count"] for t in body["totals"])
    )


def test_the_session_filters_apply(client: TestClient, org: Org, world: dict[str, Any]) -> None:
    one = report(client, org, transaction_id=world["transactions"][1])
    assert [(r["name"], r["session_count"], r["cost"]) for r in one["rows"]] == [(TOKYO, 1, "381")]
    response = client.get("/v1/sessions/report", params={**RANGE, "connector_id": "nope"}, headers=org.auth())
    assert response.status_code == 422 and "connector_id" in [e["field"] for e in response.json()["errors"]]


def ok_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.text)
