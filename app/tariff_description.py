"""The tariff a session copied, as one line of text (the sessions export's `tariff` column).

Written once, when the session starts (`ChargingSession.tariff_description`, the column's default):
the copy never changes after that, and reading the text back is what lets the export run at the
database's speed (docs/performance.md, "The tariff written when the session starts").
"""

from decimal import Decimal
from typing import Any

from app.currencies import amount_text


def describe_tariff(snapshot: dict[str, Any] | None) -> str | None:
    """`EUR 0.30/kWh + 1.00/session + 3.00/h parking after 60 min`; None without a copy, '' for an
    empty one (the export writes both as an empty cell)."""
    if snapshot is None:
        return None
    if not snapshot:
        return ""
    currency = snapshot["currency"]

    def amount(name: str) -> str:
        return amount_text(Decimal(snapshot[name]), currency)

    parts = [f"{currency} {amount('price_per_kwh')}/kWh"]
    if snapshot.get("session_fee") is not None:
        parts.append(f"{amount('session_fee')}/session")
    if snapshot.get("parking_fee_per_hour") is not None:
        grace = snapshot.get("parking_grace_minutes") or 0
        parts.append(f"{amount('parking_fee_per_hour')}/h parking after {grace} min")
    return " + ".join(parts)
