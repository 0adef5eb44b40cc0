"""Tariffs: decimal money in a currency's minor units, never a float."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.currencies import refusal
from app.schemas.common import DecimalString, Priced, UtcDateTime


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('money is a decimal string such as "0.35", never a float')
    return value


def _currency(value: str) -> str:
    code = value.strip().upper()
    problem = refusal(code)
    if problem is not None:
        raise ValueError(problem)
    return code


Money = Annotated[
    DecimalString,
    BeforeValidator(_no_float),
    Field(ge=0, max_digits=12, decimal_places=6),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,6}(\.[0-9]{1,6})?$", "examples": ["0.35"]}),
]
Currency = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217 code", "examples": ["EUR"]}
    ),
]


TARIFF_AMOUNTS = ("price_per_kwh", "session_fee", "parking_fee_per_hour")


class TariffInput(Priced):
    amounts = TARIFF_AMOUNTS

    currency: Currency
    price_per_kwh: Money
    session_fee: Money | None = None
    parking_fee_per_hour: Money | None = None
    parking_grace_minutes: int | None = Field(
        default=None, ge=0, le=1440, description="Minutes free of parking fee (0 when not given)"
    )

    @field_validator("parking_grace_minutes")
    @classmethod
    def _grace_needs_parking_fee(cls, value: int | None, info: ValidationInfo) -> int | None:
        # A fee that failed its own validation is absent from info.data: not the same as no fee.
        if (
            value is not None
            and "parking_fee_per_hour" in info.data
            and info.data["parking_fee_per_hour"] is None
        ):
            raise ValueError("a grace period needs parking_fee_per_hour")
        return value


class ScheduledTariffInput(TariffInput):
    valid_from: UtcDateTime | None = Field(
        default=None,
        description="When the version starts: a future time schedules it (the tariff box shows it as "
        "upcoming until then); omitted: now",
    )

    @field_validator("valid_from")
    @classmethod
    def _not_in_the_past(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("must be in the future; omit valid_from for a tariff that applies from now on")
        return value


class TariffRead(Priced):
    amounts = TARIFF_AMOUNTS

    id: uuid.UUID = Field(description="The tariff version")
    currency: str
    price_per_kwh: DecimalString
    session_fee: DecimalString | None
    parking_fee_per_hour: DecimalString | None
    parking_grace_minutes: int | None
    valid_from: datetime
    valid_until: datetime | None


class TariffSummary(Priced):
    amounts = TARIFF_AMOUNTS

    currency: str
    price_per_kwh: DecimalString
    session_fee: DecimalString | None
    parking_fee_per_hour: DecimalString | None


# Activation --------------------------------------------------------------------------------
