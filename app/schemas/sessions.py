import uuid
from datetime import datetime, timedelta

from pydantic import Field

from app.enums import AuthorizationReason, AuthorizationStatus, SessionStatus
from app.schemas.authorization import ConnectorSelector, IdToken
from app.schemas.common import NO_CONTROL_CHARACTERS, DecimalString, Priced, Schema, UtcDateTime
from app.schemas.tariffs import TariffSummary

# Input limits, chosen so that every accepted stop has a documented cost that fits the cost column
# (NUMERIC(18,6): below 10^12): at most 100,000 kWh x 999,999.999999 per kWh + 999,999.999999 per
# session + 999,999.999999 per hour x 8,784 hours is about 1.09 x 10^11. A stop beyond them is a
# 422 that leaves the session as it was, never a failure half-way.
MAX_METER_WH = 10**12  # a charger's cumulative register over its life
MAX_SESSION_ENERGY_WH = 100_000_000  # 100,000 kWh: a megawatt charger running four days
MAX_SESSION_DURATION = timedelta(days=366)


class SessionStart(ConnectorSelector):
    transaction_id: str = Field(
        min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS, description="The backend's transaction id"
    )
    id_token: IdToken
    meter_start_wh: int = Field(ge=0, le=MAX_METER_WH, description="Meter register at the start, in Wh")
    started_at: UtcDateTime


class SessionStop(Schema):
    meter_stop_wh: int = Field(
        ge=0,
        le=MAX_METER_WH,
        description="Meter register at the stop, in Wh: not below meter_start_wh and at most "
        f"{MAX_SESSION_ENERGY_WH:,} Wh above it",
    )
    stopped_at: UtcDateTime = Field(
        description=f"Not before started_at, and at most {MAX_SESSION_DURATION.days} days after it"
    )


class TariffSnapshot(TariffSummary):
    """The tariff version a session is documented with, as it was when the session started."""

    parking_grace_minutes: int | None
    valid_from: datetime


class SessionRead(Priced):
    amounts = ("cost",)

    id: uuid.UUID
    transaction_id: str
    status: SessionStatus
    id_token: str
    card_id: uuid.UUID | None
    card_label: str | None
    user_group_id: uuid.UUID | None
    user_group_name: str | None
    connector_id: uuid.UUID | None
    evse_id: str
    charging_group_id: uuid.UUID | None
    charging_group_name: str
    decision_status: AuthorizationStatus = Field(description="The decision when the session started")
    decision_reason: AuthorizationReason
    authorized: bool = Field(
        description="False: recorded although the decision refused it (e.g. offline start)"
    )
    tariff_version_id: uuid.UUID | None
    tariff_snapshot: TariffSnapshot | None
    meter_start_wh: int
    meter_stop_wh: int | None
    started_at: datetime
    stopped_at: datetime | None
    energy_kwh: DecimalString | None
    cost: DecimalString | None = Field(
        description="Documented cost, rounded half-up to the currency's ISO 4217 minor unit"
    )
    currency: str | None
