import uuid
from datetime import datetime

from pydantic import (
    Field,
)

from app.enums import ActivationScope, UserGroupStatus, UserGroupType
from app.schemas.activation import ActivatedChargingGroup, ActivationInput, ChargingGroupRef
from app.schemas.common import Name, Schema
from app.schemas.tariffs import TariffInput, TariffRead, TariffSummary


class UserGroupCreate(Schema):
    name: Name
    type: UserGroupType = UserGroupType.cards_only
    tariff: TariffInput | None = None
    activation: ActivationInput = Field(default_factory=lambda: ActivationInput(scope=ActivationScope.custom))


class UserGroupRename(Schema):
    name: Name


class ActivationSummary(Schema):
    scope: ActivationScope
    charging_group_count: int
    connector_count: int


class UserGroupPreview(Schema):
    """Step 4 of the wizard: what POST /v1/user-groups would create, without creating it."""

    name: str = Field(description="The name as it would be stored (trimmed)")
    type: UserGroupType
    tariff: TariffInput | None
    activation: ActivationSummary
    charging_groups: list[ActivatedChargingGroup] = Field(
        description="Charging groups it would be active on (scope custom; empty for scope all)"
    )
    access_control_to_enable: list[ChargingGroupRef] = Field(
        description="Charging groups whose access control would be switched on"
    )


class ActionVerdict(Schema):
    allowed: bool
    reason: str | None = None


class AllowedActions(Schema):
    rename: ActionVerdict
    delete: ActionVerdict
    archive: ActionVerdict
    restore: ActionVerdict
    change_tariff: ActionVerdict
    change_activation: ActionVerdict
    add_cards: ActionVerdict


class CardsBox(Schema):
    count: int


class UserGroupCounts(Schema):
    charging_groups: int
    connectors: int
    cards: int
    sessions: int


class UserGroupSummary(Schema):
    """A list item: the group with its tariff summary and counts."""

    id: uuid.UUID
    name: str
    type: UserGroupType
    status: UserGroupStatus
    activation_scope: ActivationScope
    tariff: TariffSummary | None
    counts: UserGroupCounts
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserGroupRead(Schema):
    """The group page: three boxes (tariff, charging groups, cards) and the edit menu."""

    id: uuid.UUID
    name: str
    type: UserGroupType
    status: UserGroupStatus
    archived_at: datetime | None
    tariff: TariffRead | None
    upcoming_tariff: TariffRead | None = Field(
        description="A version scheduled to start later (it replaces `tariff` then), or null"
    )
    activation: ActivationSummary
    cards: CardsBox
    session_count: int
    allowed_actions: AllowedActions
    created_at: datetime
    updated_at: datetime


# Cards -------------------------------------------------------------------------------------
