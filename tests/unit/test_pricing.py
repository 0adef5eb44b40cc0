"""Documented cost, hand-computed (SPEC section 6)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.services.pricing import energy_kwh, session_cost

START = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def tariff(**fields: object) -> dict[str, object]:
    return {"currency": "EUR", "price_per_kwh": "0.35", **fields}


def test_energy_is_exact() -> None:
    assert energy_kwh(1_000, 13_345) == Decimal("12.345")


def test_energy_only() -> None:
    # 12.345 kWh x 0.35 = 4.32075 -> 4.32
    assert session_cost(tariff(), Decimal("12.345"), START, START + timedelta(hours=1)) == Decimal("4.32")


def test_rounds_half_up_not_to_even() -> None:
    # 0.5 kWh x 0.25 = 0.125 -> 0.13 (banker's rounding would give 0.12)
    cost = session_cost(tariff(price_per_kwh="0.25"), Decimal("0.5"), START, START)
    assert cost == Decimal("0.13")


def test_session_fee_and_parking_after_grace() -> None:
    # 10 kWh x 0.30 = 3.00; + 1.50 session fee; 150 min, 60 free -> 90 min x 2.00/h = 3.00; total 7.50
    cost = session_cost(
        tariff(
            price_per_kwh="0.30", session_fee="1.50", parking_fee_per_hour="2.00", parking_grace_minutes=60
        ),
        Decimal("10"),
        START,
        START + timedelta(minutes=150),
    )
    assert cost == Decimal("7.50")


def test_no_parking_fee_within_grace() -> None:
    cost = session_cost(
        tariff(parking_fee_per_hour="2.00", parking_grace_minutes=60),
        Decimal("1"),
        START,
        START + timedelta(minutes=59),
    )
    assert cost == Decimal("0.35")


def test_partial_minutes_count() -> None:
    # 0 kWh; 61.5 min with 1 min grace -> 60.5 min x 1.20/h = 1.21
    cost = session_cost(
        tariff(parking_fee_per_hour="1.20", parking_grace_minutes=1),
        Decimal("0"),
        START,
        START + timedelta(minutes=61, seconds=30),
    )
    assert cost == Decimal("1.21")


def test_minor_units_follow_the_currency() -> None:
    # JPY has no minor unit: 7.5 kWh x 41 = 307.5 -> 308; KWD has three: 7.5 x 0.0155 = 0.11625 -> 0.116
    assert session_cost({"currency": "JPY", "price_per_kwh": "41"}, Decimal("7.5"), START, START) == Decimal(
        "308"
    )
    assert session_cost(
        {"currency": "KWD", "price_per_kwh": "0.0155"}, Decimal("7.5"), START, START
    ) == Decimal("0.116")
