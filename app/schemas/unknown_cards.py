"""Unknown cards (refused UIDs kept per charging group) and a user group's learning mode."""

import uuid
from datetime import datetime, timedelta
from typing import Self

from pydantic import Field, model_validator

from app.schemas.activation import ChargingGroupRef
from app.schemas.cards import CardFields
from app.schemas.common import Schema, UtcDateTime

LEARNING_MODE_MAX = timedelta(hours=24)


class UnknownCardRead(Schema):
    id: uuid.UUID
    uid: str = Field(description="The UID as a card would store it (normalized)")
    charging_group_id: uuid.UUID
    charging_group_name: str
    first_seen_at: datetime
    last_seen_at: datetime
    seen_count: int = Field(description="How often it was refused there")


class AddUnknownCard(CardFields):
    """The unknown UID becomes a card of this group, with these optional fields."""

    user_group_id: uuid.UUID
    blocked: bool = False


class LearningModeInput(Schema):
    ends_at: UtcDateTime = Field(description="When learning stops: in the future, at most 24 hours from now")
    charging_group_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=1000,
        description="Where unknown UIDs are learned: charging groups the user group is active on",
    )

    @model_validator(mode="after")
    def _no_duplicates(self) -> Self:
        if len(set(self.charging_group_ids)) != len(self.charging_group_ids):
            raise ValueError("charging_group_ids contains duplicates")
        return self


class LearningModeRead(Schema):
    active: bool = Field(description="Learning now (started and not yet ended)")
    started_at: datetime | None
    ends_at: datetime | None = Field(
        description="The end set at the start; null when there is no learning mode"
    )
    charging_groups: list[ChargingGroupRef] = Field(description="Where it learns (learned), by name")
