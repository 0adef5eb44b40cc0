"""Documented input limits: every accepted stop fits the columns, anything beyond is a 422 that
leaves the session as it was (it used to be a 500 on PostgreSQL, with the session active for good)."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.schemas.sessions import MAX_METER_WH, MAX_SESSION_DURATION, MAX_SESSION_ENERGY_WH
from tests.factories import Org, add_card, create_user_group, make_site, ok, start_session, stop

MAX_MONEY = "999999.999999"
MOST_EXPENSIVE = {
    "currency": "EUR",
    "price_per_kwh": MAX_MONEY,
    "session_fee": MAX_MONEY,
    "parking_fee_per_hour": MAX_MONEY,
    "parking_grace_minutes": 0,
}


@pytest.fixture
def session_at(client: TestClient, org: Org) -> Any:
    site = make_site(client, org, connectors=1)
    group = create_user_group(
        client,
        org,
        tariff=MOST_EXPENSIVE,
        activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]},
    )
    add_card(client, org, group["id"], "BEEF0001")
    started_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    def start(meter_start_wh: int) -> dict[str, Any]:
        started: dict[str, Any] = ok(
            start_session(
                client, org, "BEEF0001", site["connectors"][0]["id"], started_at.isoformat(), meter_start_wh
            ),
            201,
        )
        return started

    return start, started_at


def still_active(client: TestClient, org: Org, session_id: str) -> bool:
    current = ok(client.get(f"/v1/sessions/{session_id}", headers=org.auth()))
    return current["status"] == "active" and current["stopped_at"] is None and current["cost"] is None


def test_the_most_expensive_accepted_stop_fits(client: TestClient, org: Org, session_at: Any) -> None:
    start, started_at = session_at
    meter_start = MAX_METER_WH - MAX_SESSION_ENERGY_WH
    session = start(meter_start)
    stopped = ok(stop(client, org, session["id"], MAX_METER_WH, started_at + MAX_SESSION_DURATION))
    price = Decimal(MAX_MONEY)
    hours = Decimal(MAX_SESSION_DURATION.days * 24)
    expected = (Decimal(MAX_SESSION_ENERGY_WH) / 1000 * price + price + price * hours).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert Decimal(stopped["cost"]) == expected
    assert expected < Decimal(10) ** 12  # NUMERIC(18,6) holds values below 10^12
    assert ok(client.get(f"/v1/sessions/{session['id']}", headers=org.auth()))["cost"] == stopped["cost"]


def test_more_energy_than_a_session_can_take_is_422_and_changes_nothing(
    client: TestClient, org: Org, session_at: Any
) -> None:
    start, started_at = session_at
    session = start(0)
    response = stop(client, org, session["id"], MAX_SESSION_ENERGY_WH + 1, started_at + timedelta(hours=1))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["meter_stop_wh"]
    assert still_active(client, org, session["id"])
    # The corrected stop goes through.
    ok(stop(client, org, session["id"], MAX_SESSION_ENERGY_WH, started_at + timedelta(hours=1)))


def test_a_session_longer_than_the_limit_is_422_and_changes_nothing(
    client: TestClient, org: Org, session_at: Any
) -> None:
    start, started_at = session_at
    session = start(0)
    too_late = started_at + MAX_SESSION_DURATION + timedelta(seconds=1)
    response = stop(client, org, session["id"], 1_000, too_late)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["stopped_at"]
    assert still_active(client, org, session["id"])


def test_meter_values_beyond_the_register_are_422(client: TestClient, org: Org, session_at: Any) -> None:
    start, started_at = session_at
    session = start(0)
    response = stop(client, org, session["id"], MAX_METER_WH + 1, started_at + timedelta(hours=1))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["meter_stop_wh"]
    assert still_active(client, org, session["id"])


@pytest.mark.parametrize("field", ["price_per_kwh", "session_fee", "parking_fee_per_hour"])
def test_tariff_amounts_beyond_the_limit_are_422(client: TestClient, org: Org, field: str) -> None:
    group = create_user_group(client, org)
    response = client.put(
        f"/v1/user-groups/{group['id']}/tariff",
        json={**MOST_EXPENSIVE, field: "1000000"},
        headers=org.auth(),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_card_validity_far_in_the_future_is_422_not_an_overflow(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    response = client.post(
        f"/v1/user-groups/{group['id']}/cards",
        json={"uid": "AA01", "valid_until": "9999-12-31T23:59:59Z"},
        headers=org.auth(),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["valid_until"]
    latest = ok(
        client.post(
            f"/v1/user-groups/{group['id']}/cards",
            json={"uid": "AA02", "valid_until": "9998-12-31T23:59:59.999999Z"},
            headers=org.auth(),
        ),
        201,
    )
    assert latest["valid_until"].startswith("9998-12-31T23:59:59.999999")


def test_an_unknown_token_is_recorded_in_full(client: TestClient, org: Org) -> None:
    """Up to the input limit of 64 characters (the column once cut it at 36, silently)."""
    site = make_site(client, org, connectors=1)
    token = "unknown+" + "x" * 56
    started = ok(
        start_session(client, org, token, site["connectors"][0]["id"], datetime.now(UTC).isoformat()), 201
    )
    assert started["id_token"] == token
    assert ok(client.get(f"/v1/sessions/{started['id']}", headers=org.auth()))["id_token"] == token
