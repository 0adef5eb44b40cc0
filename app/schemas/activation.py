"""Where a user group's cards may charge."""

import uuid
from typing import Self

from pydantic import (
    Field,
    model_validator,
)

from app.enums import ActivationScope
from app.schemas.common import Schema


class ActivationInput(Schema):
    scope: ActivationScope = Field(
        description="`all`: the whole infrastructure, including charging groups added later; "
        "`custom`: only the listed charging groups"
    )
    charging_group_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _ids_only_for_custom(self) -> Self:
        if self.scope == ActivationScope.all and self.charging_group_ids:
            raise ValueError("charging_group_ids must be empty when scope is all")
        if len(set(self.charging_group_ids)) != len(self.charging_group_ids):
            raise ValueError("charging_group_ids contains duplicates")
        return self


class ChargingGroupRef(Schema):
    id: uuid.UUID
    name: str


class ActivatedChargingGroup(Schema):
    id: uuid.UUID
    name: str
    location_label: str | None
    access_control: bool
    connector_count: int


class ActivationRead(Schema):
    scope: ActivationScope
    charging_group_count: int
    connector_count: int
    items: list[ActivatedChargingGroup] = Field(description="Active charging groups, newest first")
    next_cursor: str | None
