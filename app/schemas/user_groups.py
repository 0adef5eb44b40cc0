import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.currencies import refusal
from app.enums import ActivationScope, UserGroupStatus, UserGroupType
from app.schemas.common import DecimalString, Name, Priced, Schema, ShortText, UtcDateTime

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


# Tariff ------------------------------------------------------------------------------------


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


# User groups -------------------------------------------------------------------------------


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
    created_at: datetime
    updated_at: datetime
