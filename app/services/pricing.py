"""The documented cost of a session (SPEC section 6). Guests pay nothing; this is for accounting."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.currencies import round_half_up

WH_PER_KWH = Decimal(1000)
SECONDS_PER_MINUTE = Decimal(60)
MINUTES_PER_HOUR = Decimal(60)


def energy_kwh(meter_start_wh: int, meter_stop_wh: int) -> Decimal:
    return (Decimal(meter_stop_wh) - Decimal(meter_start_wh)) / WH_PER_KWH


def session_cost(
    tariff: dict[str, Any], energy: Decimal, started_at: datetime, stopped_at: datetime
) -> Decimal:
    """energy x price_per_kwh + session_fee + parking_per_hour x max(0, minutes - grace) / 60,
    rounded half-up to the currency's minor unit. `tariff` is the session's own snapshot."""
    minutes = Decimal((stopped_at - started_at).total_seconds()) / SECONDS_PER_MINUTE
    cost = energy * Decimal(tariff["price_per_kwh"])
    if tariff.get("session_fee") is not None:
        cost += Decimal(tariff["session_fee"])
    if tariff.get("parking_fee_per_hour") is not None:
        grace = Decimal(tariff.get("parking_grace_minutes") or 0)
        parked = max(Decimal(0), minutes - grace)
        cost += Decimal(tariff["parking_fee_per_hour"]) * parked / MINUTES_PER_HOUR
    return round_half_up(cost, tariff["currency"])
