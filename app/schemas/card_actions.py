import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.enums import CardAction
from app.schemas.common import NO_CONTROL_CHARACTERS, Schema, UtcDateTime

MAX_CARDS_PER_ACTION = 10_000


class CardFilter(Schema):
    """Every card of the group that matches all the given conditions (none given: every card)."""

    q: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)] | None = Field(
        default=None, description="Part of the UID, label or printed number (as in the card list)"
    )
    blocked: bool | None = None
    valid_until_before: UtcDateTime | None = Field(
        default=None, description="Cards whose validity ends before this time"
    )


class CardActionRequest(Schema):
    action: CardAction
    card_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_CARDS_PER_ACTION, description="The cards, by id"
    )
    filter: CardFilter | None = Field(default=None, description="The cards, by what they are")
    valid_from: UtcDateTime | None = Field(
        default=None, description="`set_validity`: the new start (omitted: each card keeps its own)"
    )
    valid_until: UtcDateTime | None = Field(
        default=None, description="`set_validity`: the new end (omitted: each card keeps its own)"
    )
    target_user_group_id: uuid.UUID | None = Field(default=None, description="`move`: where the cards go")


class CardActionResult(Schema):
    action: CardAction
    user_group_id: uuid.UUID
    count: int = Field(description="How many cards the action changed (or removed)")
    target_user_group_id: uuid.UUID | None = None
    done_at: datetime
