"""The guest rules' facts, as columns of the one authorization statement (app/repositories/
authorization.py): the group's current rule set (an outer join on its partial unique index), and
the counts the rules need, as scalar subqueries that run only when their rule is set (each sits
in a CASE on the rule's column, so a group without rules pays for none of them).

Quota periods are calendar days, weeks (from Monday) and months in the organization's time
zone, computed by the database: `date_trunc` on PostgreSQL, the function `ugs_period_start`
registered on every SQLite connection (app/db/engine.py) there.
"""

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    String,
    TypeDecorator,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.enums import AuthorizationReason, SessionStatus
from app.models import Card, ChargingSession, Connector, OrganizationSettings, UserGroup, UserGroupRules
from app.models.base import UTCDateTime


class FetchedDecimal(TypeDecorator[Decimal]):
    """A decimal as the driver hands it over (NUMERIC on PostgreSQL, text or a REAL sum on SQLite),
    with no result processor that needs the column's type code (the hot path has none)."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


def _decimal(column: Any) -> Any:
    return type_coerce(column, FetchedDecimal())


class period_start(FunctionElement[Any]):
    """The UTC instant the period (day, week, month) containing `at` starts in time zone `tz`."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(period_start, "postgresql")
def _period_start_postgresql(element: period_start, compiler: SQLCompiler, **kw: Any) -> str:
    at, tz, period = (compiler.process(argument, **kw) for argument in element.clauses)
    local = f"(CAST({at} AS TIMESTAMP WITH TIME ZONE) AT TIME ZONE {tz})"
    return f"(date_trunc({period}, {local}) AT TIME ZONE {tz})"


@compiles(period_start)
def _period_start_sqlite(element: period_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"ugs_period_start({compiler.process(element.clause_expr, **kw)[1:-1]})"


def _text(value: str) -> ColumnElement[str]:
    """A constant written into the statement (the hot path binds only its named parameters)."""
    assert value.isidentifier()
    return literal_column(f"'{value}'")


def rules_join_condition() -> ColumnElement[bool]:
    return and_(UserGroupRules.user_group_id == UserGroup.id, UserGroupRules.valid_until.is_(None))


def _when_set(rule: Any, subquery: Any) -> Any:
    counted = subquery.correlate_except(ChargingSession).scalar_subquery()
    return case((rule.is_not(None), counted), else_=None)


def rule_columns() -> dict[str, Any]:
    """The columns, by AuthorizationFacts field name. The moment is the bind parameter `now`."""
    now = bindparam("now", type_=UTCDateTime())
    time_zone = func.coalesce(
        select(OrganizationSettings.time_zone)
        .where(OrganizationSettings.organization_id == Connector.organization_id)
        .correlate_except(OrganizationSettings)
        .scalar_subquery(),
        literal_column("'UTC'"),
    )
    since = period_start(now, time_zone, UserGroupRules.quota_period)
    accepted = and_(
        ChargingSession.decision_reason == _text(AuthorizationReason.accepted.value),
        ChargingSession.started_at >= since,
        ChargingSession.started_at <= now,
    )
    active = _text(SessionStatus.active.value)
    of_card = and_(ChargingSession.card_id == Card.id, accepted)
    of_group = and_(ChargingSession.user_group_id == UserGroup.id, accepted)
    energy = _decimal(func.coalesce(func.sum(ChargingSession.energy_kwh), literal_column("0")))
    return {
        "time_zone": case((UserGroupRules.id.is_not(None), time_zone), else_=None),
        "plug_type": Connector.plug_type,
        "max_power_kw": _decimal(Connector.max_power_kw),
        "card_first_used_at": Card.first_used_at,
        "card_expires_at": Card.expires_at,
        **{f"rule_{name}": getattr(UserGroupRules, name) for name in RULE_FIELDS},
        **{f"rule_{name}": _decimal(getattr(UserGroupRules, name)) for name in DECIMAL_RULE_FIELDS},
        "card_active_sessions": _when_set(
            UserGroupRules.max_concurrent_sessions,
            select(func.count()).where(
                ChargingSession.card_id == Card.id,
                ChargingSession.status == active,
            ),
        ),
        "card_period_sessions": _when_set(UserGroupRules.card_sessions, select(func.count()).where(of_card)),
        "card_period_kwh": _when_set(UserGroupRules.card_energy_kwh, select(energy).where(of_card)),
        "group_period_sessions": _when_set(
            UserGroupRules.group_sessions, select(func.count()).where(of_group)
        ),
        "group_period_kwh": _when_set(UserGroupRules.group_energy_kwh, select(energy).where(of_group)),
    }


RULE_FIELDS = (
    "group_valid_from",
    "group_valid_until",
    "card_validity_hours",
    "allowed_weekdays",
    "allowed_from_minute",
    "allowed_until_minute",
    "allowed_plug_types",
    "max_concurrent_sessions",
    "quota_period",
    "card_sessions",
    "group_sessions",
)
DECIMAL_RULE_FIELDS = ("max_power_kw", "card_energy_kwh", "group_energy_kwh")
