"""Cards: one UID per card in the organization, normalized."""

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.schemas.common import Name, Schema, ShortText, UtcDateTime

MAX_CARDS_PER_REQUEST = 10_000
_UID_SEPARATORS = re.compile(r"[ :\-._]")
_UID_VALID = re.compile(r"^[A-Z0-9]{1,36}$")


def normalize_uid(value: str) -> str:
    """Separators removed (space, colon, dash, dot, underscore), upper case: `04:a2-3b` -> `04A23B`."""
    normalized = _UID_SEPARATORS.sub("", value).upper()
    if not _UID_VALID.fullmatch(normalized):
        raise ValueError(
            "a card UID has 1 to 36 letters or digits once separators are removed (e.g. 04A2B3C4D5E6F7)"
        )
    return normalized


CardUid = Annotated[
    str,
    AfterValidator(normalize_uid),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": r"^[A-Za-z0-9:._ -]+$",
            "description": "Card UID; separators (space : - . _) are removed and letters upper-cased, "
            "leaving 1 to 36 letters or digits",
            "examples": ["04:A2:B3:C4:D5:E6:F7"],
        }
    ),
]


class CardFields(Schema):
    label: Name | None = None
    printed_number: ShortText | None = Field(default=None, description="The number printed on the card")
    valid_from: UtcDateTime | None = None
    valid_until: UtcDateTime | None = None

    @field_validator("valid_until")
    @classmethod
    def _validity_order(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        valid_from = info.data.get("valid_from")
        if value is not None and valid_from is not None and value <= valid_from:
            raise ValueError("valid_until must be after valid_from")
        return value


class CardCreate(CardFields):
    uid: CardUid
    blocked: bool = False


class CardUpdate(CardFields):
    blocked: bool | None = None


class CardsBulkCreate(Schema):
    # Rows are validated one by one in the service, so a 422 lists every bad row at once
    # (bad format, duplicate, already taken); the document still shows each row as a CardCreate.
    cards: Annotated[
        list[dict[str, Any]],
        Field(min_length=1, max_length=MAX_CARDS_PER_REQUEST),
        WithJsonSchema(
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/CardCreate"},
                "minItems": 1,
                "maxItems": MAX_CARDS_PER_REQUEST,
            }
        ),
    ]


class CardsAdded(Schema):
    user_group_id: uuid.UUID
    added: int


class CardMove(Schema):
    user_group_id: uuid.UUID = Field(description="The user group the card moves to")


class CardRead(Schema):
    id: uuid.UUID
    user_group_id: uuid.UUID
    uid: str
    label: str | None
    printed_number: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    blocked: bool
    first_used_at: datetime | None = Field(description="The start of the card's first accepted session")
    expires_at: datetime | None = Field(
        description="The end the group's rule `card_validity_hours` gave it at its first use (null: none)"
    )
    created_at: datetime
    updated_at: datetime
