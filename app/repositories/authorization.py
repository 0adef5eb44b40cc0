"""The authorization read: what a decision needs, in one statement.

Used in two ways: inside a session start's transaction (`read_facts`, after the group lock), and
on the hot path (`read_key_and_facts`), where the statement also authenticates the caller's key
and is compiled once per dialect and run on the driver directly, outside any transaction. Rows are
typed (`AuthorizationFacts`, `KeyRow`): the columns are listed by field name, so their order cannot drift.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    exists,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.db.reads import compiled
from app.enums import ActivationScope, PlugType, QuotaPeriod, Role, UserGroupStatus
from app.models import (
    Activation,
    ApiKey,
    Card,
    ChargePoint,
    ChargingGroup,
    Connector,
    LearningMode,
    UserGroup,
    UserGroupRules,
)
from app.repositories.rule_facts import rule_columns, rules_join_condition


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


class AuthorizationFacts(NamedTuple):
    """What a decision needs (app/services/policy.py::decide), read in one statement: the
    connector's charging group, the card (None fields when the UID is not registered) and its
    user group; then the names a session start copies (not read by the decision)."""

    connector_id: uuid.UUID
    charging_group_id: uuid.UUID
    access_control: bool
    card_id: uuid.UUID | None
    card_blocked: bool | None
    card_valid_from: datetime | None
    card_valid_until: datetime | None
    user_group_id: uuid.UUID | None
    user_group_status: UserGroupStatus | None
    user_group_scope: ActivationScope | None
    active_on_charging_group: bool
    evse_id: str | None = None
    charging_group_name: str | None = None
    card_label: str | None = None
    user_group_name: str | None = None
    # Only for an unknown UID: the latest learning mode here (app/services/unknown_cards.py).
    learning_user_group_id: uuid.UUID | None = None
    learning_ends_at: datetime | None = None
    # The guest rules (app/services/guest_rules.py): the connector, the card's first use, the
    # group's current rule set (all None without one) and the counts its rules need.
    time_zone: str | None = None
    plug_type: PlugType | None = None
    max_power_kw: Decimal | None = None
    card_first_used_at: datetime | None = None
    card_expires_at: datetime | None = None
    rule_group_valid_from: datetime | None = None
    rule_group_valid_until: datetime | None = None
    rule_card_validity_hours: int | None = None
    rule_allowed_weekdays: int | None = None
    rule_allowed_from_minute: int | None = None
    rule_allowed_until_minute: int | None = None
    rule_allowed_plug_types: str | None = None
    rule_max_power_kw: Decimal | None = None
    rule_max_concurrent_sessions: int | None = None
    rule_quota_period: QuotaPeriod | None = None
    rule_card_energy_kwh: Decimal | None = None
    rule_card_sessions: int | None = None
    rule_group_energy_kwh: Decimal | None = None
    rule_group_sessions: int | None = None
    card_active_sessions: int | None = None
    card_period_sessions: int | None = None
    card_period_kwh: Decimal | None = None
    group_period_sessions: int | None = None
    group_period_kwh: Decimal | None = None


class KeyRow(NamedTuple):
    """The caller's API key, found by its prefix."""

    key_id: uuid.UUID
    organization_id: uuid.UUID
    role: Role
    key_hash: str
    revoked_at: datetime | None
    name: str


def _labelled(row: type[tuple[Any, ...]], sources: dict[str, Any]) -> tuple[Any, ...]:
    """The columns in the row's field order, each labelled with its field's name (a test checks
    that the statements select exactly these names, in this order)."""
    fields: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    assert set(sources) == set(fields), "every field has exactly one column"
    return tuple(sources[name].label(name) for name in fields)


def _when_unknown(column: Any) -> Any:
    """The latest-ending learning mode on the connector's charging group (at most one runs per
    charging group), evaluated only for an unregistered UID under access control: a known card's
    read does not touch the learning modes."""
    latest = (
        select(column)
        .where(LearningMode.charging_group_id == ChargePoint.charging_group_id)
        .order_by(LearningMode.ends_at.desc())
        # literals: the statement is compiled once, with only its named binds
        .limit(literal_column("1"))
        .offset(literal_column("0"))
        .correlate(ChargePoint)
        .scalar_subquery()
    )
    return case((and_(Card.id.is_(None), ChargingGroup.access_control), latest), else_=None)


FACT_COLUMNS = _labelled(
    AuthorizationFacts,
    {
        "connector_id": Connector.id,
        "charging_group_id": ChargePoint.charging_group_id,
        "access_control": ChargingGroup.access_control,
        "card_id": Card.id,
        "card_blocked": Card.blocked,
        "card_valid_from": Card.valid_from,
        "card_valid_until": Card.valid_until,
        "user_group_id": UserGroup.id,
        "user_group_status": UserGroup.status,
        "user_group_scope": UserGroup.activation_scope,
        "active_on_charging_group": exists().where(
            Activation.user_group_id == UserGroup.id,
            Activation.charging_group_id == ChargePoint.charging_group_id,
        ),
        "evse_id": Connector.evse_id,
        "charging_group_name": ChargingGroup.name,
        "card_label": Card.label,
        "user_group_name": UserGroup.name,
        "learning_user_group_id": _when_unknown(LearningMode.user_group_id),
        "learning_ends_at": _when_unknown(LearningMode.ends_at),
        **rule_columns(),
    },
)
KEY_COLUMNS = _labelled(
    KeyRow,
    {
        "key_id": ApiKey.id,
        "organization_id": ApiKey.organization_id,
        "role": ApiKey.role,
        "key_hash": ApiKey.key_hash,
        "revoked_at": ApiKey.revoked_at,
        "name": ApiKey.name,
    },
)
KEY_WIDTH = len(KeyRow._fields)


def facts_row(values: Sequence[Any]) -> AuthorizationFacts:
    """The one place a facts row is built from a result's values (they are in field order)."""
    facts = AuthorizationFacts._make(values)
    return facts._replace(
        active_on_charging_group=bool(facts.active_on_charging_group),  # SQLite answers EXISTS with 0/1
        card_period_kwh=_kwh(facts.card_period_kwh),  # and sums text as REAL
        group_period_kwh=_kwh(facts.group_period_kwh),
    )


def _kwh(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.000001")).normalize()


def hot_path_rows(values: Sequence[Any]) -> tuple[KeyRow, AuthorizationFacts | None]:
    """The one place a hot-path result is split: the key's columns, then the facts (all NULL
    when the connector is not in the key's organization, or absent for the key-only read)."""
    key, facts = values[:KEY_WIDTH], values[KEY_WIDTH:]
    found = len(facts) > 0 and facts[0] is not None
    return KeyRow._make(key), facts_row(facts) if found else None


def _facts_from(uid: Any, connector_condition: ColumnElement[bool] | None = None) -> FromClause:
    on_charge_point = ChargePoint.id == Connector.charge_point_id
    if connector_condition is not None:
        on_charge_point = and_(on_charge_point, connector_condition)
    return (
        Connector.__table__.join(ChargePoint, on_charge_point)
        .join(ChargingGroup, ChargingGroup.id == ChargePoint.charging_group_id)
        .outerjoin(Card, and_(Card.organization_id == Connector.organization_id, Card.uid == uid))
        .outerjoin(UserGroup, UserGroup.id == Card.user_group_id)
        .outerjoin(UserGroupRules, rules_join_condition())
    )


def authorization_facts_statement(
    organization_id: uuid.UUID, uid: str, ref: ConnectorRef
) -> Select[*tuple[Any, ...]]:
    return (
        select(*FACT_COLUMNS)
        .select_from(_facts_from(uid))
        .where(Connector.organization_id == organization_id, _connector_condition(ref.form, ref))
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


HOT_PATH: dict[str, Select[Any]] = {
    **{form: _hot_path_statement(form) for form in ("connector_id", "evse_id", "charge_point")},
    # For a request whose body is invalid: who is asking still decides between 401/403 and 422.
    "key_only": select(*KEY_COLUMNS).where(ApiKey.prefix == bindparam("prefix", type_=ApiKey.prefix.type)),
}


async def read_key_and_facts(
    db: Database, prefix: str, uid: str | None, ref: ConnectorRef | None, now: datetime
) -> tuple[KeyRow, AuthorizationFacts | None] | None:
    """The key by its prefix (None: no such key) and, when a connector is given, the facts in the
    key's organization: one round trip on the driver, outside any transaction."""
    if uid is None or ref is None:
        values = await compiled(db, HOT_PATH["key_only"]).fetch_first(db, {"prefix": prefix})
    else:
        statement = compiled(db, HOT_PATH[ref.form])
        values = await statement.fetch_first(db, {"prefix": prefix, "uid": uid, "now": now, **ref.values})
    return None if values is None else hot_path_rows(values)


async def read_key(db: Database, prefix: str) -> KeyRow | None:
    """The key by its prefix alone (None: no such key), on the driver outside any transaction:
    the authentication every request pays (app/services/api_keys.py)."""
    values = await compiled(db, HOT_PATH["key_only"]).fetch_first(db, {"prefix": prefix})
    return None if values is None else hot_path_rows(values)[0]


async def read_facts(
    session: AsyncSession, organization_id: uuid.UUID, uid: str, ref: ConnectorRef, now: datetime
) -> AuthorizationFacts | None:
    """The facts inside a transaction (a session start, after the group lock), at `now`."""
    statement = authorization_facts_statement(organization_id, uid, ref)
    row = (await session.execute(statement, {"now": now})).first()
    return None if row is None else facts_row(tuple(row))
