import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from app.enums import ChargePointRole, PlugType
from app.schemas.common import DecimalString, Label, Name, Schema

Identity = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$"),
]
EvseId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        min_length=3,
        max_length=48,
        pattern=r"^[A-Za-z0-9*\-]+$",
    ),
    Field(examples=["DE*ABC*E123456*1"]),
]
PowerKw = Annotated[Decimal, Field(gt=0, le=2000, max_digits=10, decimal_places=3)]


class ChargingGroupCreate(Schema):
    name: Name
    location_label: Label | None = None
    access_control: bool = Field(default=False, description="Off: anyone may charge here (free charging)")


class ChargingGroupUpdate(Schema):
    name: Name | None = None
    location_label: Label | None = None
    access_control: bool | None = None


class ChargingGroupRead(Schema):
    id: uuid.UUID
    name: str
    location_label: str | None
    access_control: bool
    charge_point_count: int
    connector_count: int
    created_at: datetime
    updated_at: datetime


class ChargePointCreate(Schema):
    charging_group_id: uuid.UUID
    identity: Identity = Field(description="OCPP charge point identity, unique in the organization")
    role: ChargePointRole = ChargePointRole.controller


class ChargePointUpdate(Schema):
    charging_group_id: uuid.UUID | None = None
    identity: Identity | None = None
    role: ChargePointRole | None = None


class ChargePointRead(Schema):
    id: uuid.UUID
    charging_group_id: uuid.UUID
    identity: str
    role: ChargePointRole
    connector_count: int
    created_at: datetime
    updated_at: datetime


class ConnectorCreate(Schema):
    charge_point_id: uuid.UUID
    connector_number: int = Field(ge=1, le=99, description="OCPP connector id on the charge point")
    evse_id: EvseId
    plug_type: PlugType
    max_power_kw: PowerKw


class ConnectorUpdate(Schema):
    evse_id: EvseId | None = None
    plug_type: PlugType | None = None
    max_power_kw: PowerKw | None = None


class ConnectorRead(Schema):
    id: uuid.UUID
    charge_point_id: uuid.UUID
    charging_group_id: uuid.UUID
    connector_number: int
    evse_id: str
    plug_type: PlugType
    max_power_kw: DecimalString
    created_at: datetime
    updated_at: datetime
