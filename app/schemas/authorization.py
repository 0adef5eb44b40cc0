"""The charge-point backend's question (may this card charge at this connector?) and the answer."""

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from app.enums import (
    AuthorizationReason,
    AuthorizationStatus,
    Ocpp16AuthorizationStatus,
    QuotaPeriod,
    RuleVerdict,
)
from app.schemas.charging import EvseId, Identity
from app.schemas.common import NO_CONTROL_CHARACTERS, DecimalString, Schema, UtcDateTime

IdToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=NO_CONTROL_CHARACTERS,
        description="The card UID (OCPP idTag / IdToken)",
    ),
]


class ConnectorSelector(Schema):
    """The connector, given in exactly one way: by id, by EVSE id, or by charge point + number."""

    connector_id: uuid.UUID | None = None
    evse_id: EvseId | None = None
    charge_point_identity: Identity | None = None
    connector_number: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _exactly_one_way(self) -> Self:
        by_charge_point = self.charge_point_identity is not None or self.connector_number is not None
        if by_charge_point and (self.charge_point_identity is None or self.connector_number is None):
            raise ValueError("charge_point_identity and connector_number go together")
        ways = sum((self.connector_id is not None, self.evse_id is not None, by_charge_point))
        if ways != 1:
            raise ValueError(
                "give the connector in exactly one way: connector_id, evse_id, "
                "or charge_point_identity with connector_number"
            )
        return self


class AuthorizeRequest(ConnectorSelector):
    id_token: IdToken
    token_type: str | None = Field(
        default=None,
        max_length=20,
        pattern=NO_CONTROL_CHARACTERS,
        description="OCPP 2.0.1 IdTokenEnumType, e.g. ISO14443 (informative)",
    )


class QuotaRemaining(Schema):
    """What the group's quotas leave in the current period (null: no such quota)."""

    period: QuotaPeriod
    card_energy_kwh: DecimalString | None
    card_sessions: int | None
    group_energy_kwh: DecimalString | None
    group_sessions: int | None


class AuthorizeResponse(Schema):
    status: AuthorizationStatus = Field(description="OCPP 2.0.1 AuthorizationStatusEnumType")
    ocpp16_status: Ocpp16AuthorizationStatus = Field(
        description="The same answer as an OCPP 1.6 AuthorizationStatus (README: the mapping)"
    )
    reason: AuthorizationReason = Field(
        description="Why; each reason has one status (README: the table of reasons). `free_charging`: "
        "access control is off, no user group is used"
    )
    connector_id: uuid.UUID
    charging_group_id: uuid.UUID
    user_group_id: uuid.UUID | None
    card_id: uuid.UUID | None
    cache_expires_at: datetime = Field(description="The answer may be cached until then")
    remaining: QuotaRemaining | None = Field(
        description="Accepted under a quota: what is left in the current period; otherwise null"
    )


class ExplainRequest(ConnectorSelector):
    """A card (by id or UID) at a connector, now or at `at`."""

    card_id: uuid.UUID | None = None
    id_token: IdToken | None = None
    at: UtcDateTime | None = Field(default=None, description="The moment to decide for (default: now)")

    @model_validator(mode="after")
    def _one_card(self) -> Self:
        if (self.card_id is None) == (self.id_token is None):
            raise ValueError("give the card in exactly one way: card_id or id_token")
        return self


class RuleCheck(Schema):
    rule: str = Field(description="The check, in the decision table's order")
    verdict: RuleVerdict
    reason: AuthorizationReason | None = Field(description="The refusal, when the check failed")
    detail: str | None


class ExplainResponse(AuthorizeResponse):
    at: datetime
    decided_by: str | None = Field(
        description="The check that decided (the first that failed; `access_control` for free charging); "
        "null when every check passed"
    )
    rules: list[RuleCheck]
