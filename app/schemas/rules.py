"""A user group's optional guest rules (README: "Guest rules"): one set per group, replaced as a
whole (PUT), versioned like the tariff. Every field is optional; null is "no such rule"."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from app.enums import PlugType, QuotaPeriod, Weekday
from app.schemas.common import DecimalString, Schema, UtcDateTime

WEEKDAYS = list(Weekday)  # bit i of the stored mask is WEEKDAYS[i] (Monday is bit 0)
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Clock = Annotated[str, Field(pattern=CLOCK, examples=["08:00"], description="HH:MM, local time")]
ClockEnd = Annotated[
    str, Field(pattern=CLOCK[:-1] + "|^24:00$", examples=["18:00"], description="HH:MM (or 24:00)")
]
Kwh = Annotated[DecimalString, Field(gt=0, max_digits=12, decimal_places=3, examples=["30"])]
QUOTAS = ("card_energy_kwh", "card_sessions", "group_energy_kwh", "group_sessions")


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class RulesBase(Schema):
    group_valid_from: UtcDateTime | None = Field(
        default=None, description="The group's cards are accepted from then on (Expired before)"
    )
    group_valid_until: UtcDateTime | None = Field(
        default=None, description="... and until then (Expired from then on)"
    )
    card_validity_hours: int | None = Field(
        default=None, ge=1, le=8784, description="A card is valid this long after its first accepted session"
    )
    allowed_weekdays: list[Weekday] | None = Field(
        default=None, min_length=1, max_length=7, description="Days (organization's time zone)"
    )
    allowed_from: Clock | None = Field(default=None, description="Start of the daily window (local)")
    allowed_until: ClockEnd | None = Field(
        default=None,
        description="End of the daily window (local, exclusive); before `allowed_from`: past midnight",
    )
    allowed_plug_types: list[PlugType] | None = Field(default=None, min_length=1, max_length=len(PlugType))
    max_power_kw: Annotated[DecimalString, Field(gt=0, max_digits=9, decimal_places=3)] | None = Field(
        default=None, description="Connectors up to this power only"
    )
    max_concurrent_sessions: int | None = Field(
        default=None, ge=1, le=100, description="Active sessions per card"
    )
    quota_period: QuotaPeriod | None = Field(
        default=None,
        description="The calendar period of the quotas (organization's time zone; weeks from Monday)",
    )
    card_energy_kwh: Kwh | None = Field(default=None, description="kWh per card and period")
    card_sessions: int | None = Field(
        default=None, ge=1, le=100_000, description="Sessions per card and period"
    )
    group_energy_kwh: Kwh | None = Field(default=None, description="kWh of all the group's cards per period")
    group_sessions: int | None = Field(default=None, ge=1, le=10_000_000, description="Sessions per period")


class RulesInput(RulesBase):
    """The whole rule set (PUT replaces it; at least one rule)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not any(value is not None for value in self.model_dump().values()):
            raise ValueError("set at least one rule (DELETE removes the rules)")
        start, end = self.group_valid_from, self.group_valid_until
        if start is not None and end is not None and end <= start:
            raise ValueError("group_valid_until must be after group_valid_from")
        if (self.allowed_from is None) != (self.allowed_until is None):
            raise ValueError("allowed_from and allowed_until go together")
        start_minute = None if self.allowed_from is None else minutes(self.allowed_from)
        if start_minute is not None and self.allowed_until and start_minute == minutes(self.allowed_until):
            raise ValueError("allowed_from and allowed_until must differ")
        has_quota = any(getattr(self, name) is not None for name in QUOTAS)
        if has_quota != (self.quota_period is not None):
            raise ValueError("quota_period goes with at least one quota, and a quota needs quota_period")
        return self

    def columns(self) -> dict[str, Any]:
        """The stored columns."""
        values = self.model_dump(
            exclude={"allowed_weekdays", "allowed_from", "allowed_until", "allowed_plug_types"}
        )
        days, plugs = self.allowed_weekdays, self.allowed_plug_types
        return {
            **values,
            "allowed_weekdays": None if days is None else sum(1 << WEEKDAYS.index(d) for d in set(days)),
            "allowed_from_minute": None if self.allowed_from is None else minutes(self.allowed_from),
            "allowed_until_minute": None if self.allowed_until is None else minutes(self.allowed_until),
            "allowed_plug_types": None
            if plugs is None
            else ",".join(p.value for p in PlugType if p in plugs),
        }


class RulesRead(RulesBase):
    id: uuid.UUID = Field(description="The rules version")
    user_group_id: uuid.UUID
    valid_from: datetime = Field(description="When this version took effect")
    valid_until: datetime | None = Field(description="When it was replaced or removed; null: in force")

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, row: Any) -> Any:
        if isinstance(row, dict):
            return row
        names = ("id", "user_group_id", "valid_from", "valid_until", "group_valid_from", "group_valid_until")
        values: dict[str, Any] = {name: getattr(row, name) for name in names}
        for name in (
            "card_validity_hours",
            "max_power_kw",
            "max_concurrent_sessions",
            "quota_period",
            *QUOTAS,
        ):
            values[name] = getattr(row, name)
        mask, start, end, plugs = (
            row.allowed_weekdays,
            row.allowed_from_minute,
            row.allowed_until_minute,
            row.allowed_plug_types,
        )
        values["allowed_weekdays"] = (
            None if mask is None else [d for i, d in enumerate(WEEKDAYS) if mask & (1 << i)]
        )
        values["allowed_from"] = None if start is None else clock(start)
        values["allowed_until"] = None if end is None else clock(end)
        values["allowed_plug_types"] = None if plugs is None else [PlugType(p) for p in plugs.split(",") if p]
        return values
