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


class ActivationChange(Schema):
    """One activation change, as PUT .../charging-groups (`replace`), PUT .../{id} (`activate`)
    or DELETE .../{id} (`deactivate`) would make it: exactly one of the three."""

    replace: ActivationInput | None = None
    activate: uuid.UUID | None = None
    deactivate: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum(value is not None for value in (self.replace, self.activate, self.deactivate)) != 1:
            raise ValueError("give exactly one of replace, activate, deactivate")
        return self


class ChargingGroupImpactRead(Schema):
    id: uuid.UUID
    name: str
    access_control_before: bool
    access_control_after: bool
    cards_gaining_access: int = Field(
        description="Cards of the organization that could not charge here and could"
    )
    cards_losing_access: int = Field(
        description="Cards of the organization that could charge here and could not (leaving free charging: "
        "every card but those of the groups active here; people without a card lose access too)"
    )


class ActivationImpactRead(Schema):
    scope_before: ActivationScope
    scope_after: ActivationScope
    leaving_free_charging: list[ChargingGroupRef] = Field(
        description="Charging groups whose access control the change would switch on"
    )
    charging_groups: list[ChargingGroupImpactRead] = Field(
        description="Every charging group where the user group's activation would change, by name"
    )
