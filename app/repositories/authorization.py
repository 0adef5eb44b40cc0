"""The authorization read: what a decision needs, in one statement.

Used in two ways: inside a session start's transaction (`authorization_facts_statement`, after the
group lock), and on the hot path (`HOT_PATH`), where the statement also authenticates the caller's
key and is compiled once per dialect and run on the driver directly, outside any transaction.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, bindparam, exists, select

from app.models import Activation, ApiKey, Card, ChargePoint, ChargingGroup, Connector, UserGroup


@dataclass(frozen=True)
class ConnectorRef:
    """A connector as the backend names it: exactly one of the three forms is set."""

    connector_id: uuid.UUID | None = None
    evse_id: str | None = None
    charge_point_identity: str | None = None
    connector_number: int | None = None

    @property
    def form(self) -> str:
        if self.connector_id is not None:
            return "connector_id"
        if self.evse_id is not None:
            return "evse_id"
        return "charge_point"

    @property
    def values(self) -> dict[str, Any]:
        if self.form == "connector_id":
            return {"connector_id": self.connector_id}
        if self.form == "evse_id":
            return {"evse_id": self.evse_id}
        return {"identity": self.charge_point_identity, "connector_number": self.connector_number}


def _connector_condition(form: str, ref: ConnectorRef | None = None) -> ColumnElement[bool]:
    """Literal values from `ref`, or bind parameters when `ref` is None (a prebuilt statement)."""

    def value(name: str, literal: Any, type_: Any) -> Any:
        return bindparam(name, type_=type_) if ref is None else literal

    condition: ColumnElement[bool]
    if form == "connector_id":
        condition = Connector.id == value("connector_id", ref and ref.connector_id, Connector.id.type)
        return condition
    if form == "evse_id":
        condition = Connector.evse_id == value("evse_id", ref and ref.evse_id, Connector.evse_id.type)
        return condition
    return and_(
        ChargePoint.identity
        == value("identity", ref and ref.charge_point_identity, ChargePoint.identity.type),
        Connector.connector_number
        == value("connector_number", ref and ref.connector_number, Connector.connector_number.type),
    )


FACT_COLUMNS: tuple[Any, ...] = (
    Connector.id,
    ChargePoint.charging_group_id,
    ChargingGroup.access_control,
    Card.id,
    Card.blocked,
    Card.valid_from,
    Card.valid_until,
    UserGroup.id,
    UserGroup.status,
    UserGroup.activation_scope,
    exists()
    .where(
        Activation.user_group_id == UserGroup.id,
        Activation.charging_group_id == ChargePoint.charging_group_id,
    )
    .label("active_here"),
    Connector.evse_id,
    ChargingGroup.name,
    Card.label,
    UserGroup.name,
)


def _facts_from(uid: Any, connector_condition: ColumnElement[bool] | None = None) -> FromClause:
    on_charge_point = ChargePoint.id == Connector.charge_point_id
    if connector_condition is not None:
        on_charge_point = and_(on_charge_point, connector_condition)
    return (
        Connector.__table__.join(ChargePoint, on_charge_point)
        .join(ChargingGroup, ChargingGroup.id == ChargePoint.charging_group_id)
        .outerjoin(Card, and_(Card.organization_id == Connector.organization_id, Card.uid == uid))
        .outerjoin(UserGroup, UserGroup.id == Card.user_group_id)
    )


def authorization_facts_statement(
    organization_id: uuid.UUID, uid: str, ref: ConnectorRef
) -> Select[*tuple[Any, ...]]:
    return (
        select(*FACT_COLUMNS)
        .select_from(_facts_from(uid))
        .where(Connector.organization_id == organization_id, _connector_condition(ref.form, ref))
    )


KEY_COLUMNS: tuple[Any, ...] = (
    ApiKey.id,
    ApiKey.organization_id,
    ApiKey.role,
    ApiKey.key_hash,
    ApiKey.revoked_at,
    ApiKey.name,
)


def _hot_path_statement(form: str) -> Select[*tuple[Any, ...]]:
    """The key (by its prefix) and, in its organization, the connector's facts: one round trip.
    No row: unknown key. Connector columns NULL: unknown connector."""
    prefix = bindparam("prefix", type_=ApiKey.prefix.type)
    # The key's organization as a constant inside the connector lookup, so every database can
    # use the (organization_id, evse_id) and (organization_id, identity) indexes there.
    key_organization = select(ApiKey.organization_id).where(ApiKey.prefix == prefix).scalar_subquery()
    facts = _facts_from(
        bindparam("uid", type_=Card.uid.type),
        and_(
            Connector.organization_id == key_organization,
            ChargePoint.organization_id == key_organization,
            _connector_condition(form),
        ),
    )
    return (
        select(*KEY_COLUMNS, *FACT_COLUMNS)
        .select_from(ApiKey.__table__.outerjoin(facts, Connector.organization_id == ApiKey.organization_id))
        .where(ApiKey.prefix == prefix)
    )


HOT_PATH: dict[str, Select[*tuple[Any, ...]]] = {
    form: _hot_path_statement(form) for form in ("connector_id", "evse_id", "charge_point")
}
# For a request whose body is invalid: who is asking still decides between 401/403 and 422.
KEY_ONLY = select(*KEY_COLUMNS).where(ApiKey.prefix == bindparam("prefix", type_=ApiKey.prefix.type))
