"""The session report's JSON, written by PostgreSQL.

A month per card or per user group and day is 10^5 rows; turning them into Python objects and
back into JSON took seconds, the grouping itself half a second. Here the database groups, rounds
and writes each row as JSON text, joined per period, so Python only concatenates a few dozen
strings. The values are the ones `ReportRepository` and the service give (the tests compare both):
costs rounded half-up to the currency's minor unit per row, amounts as text with no trailing zeros
beyond the minor unit, rows in code point order (`COLLATE "C"`) of name, id, UID and currency.
The period's first day and UTC instant come from Python (zoneinfo), as for the other readings.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    String,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    null,
    select,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from app.currencies import minor_units_table
from app.enums import ReportDimension, ReportPeriod
from app.models import ChargingSession
from app.repositories.base import Repository
from app.repositories.reports import key_columns, local_period_start, period_start_at
from app.repositories.sessions import SessionFilters, session_conditions


@dataclass(frozen=True)
class ReportJson:
    rows: list[str]  # per period, in order: its rows as JSON objects separated by commas
    totals: str  # the totals per currency as JSON objects separated by commas ("" without rows)


def periods_around(start: datetime, until: datetime, zone: ZoneInfo, period: ReportPeriod) -> list[date]:
    """The first day of every period of the zone from a day before `start` to a day after `until`:
    a superset of the periods PostgreSQL finds, whatever its own copy of the zone database says."""
    day = local_period_start(start - timedelta(days=1), zone, period)
    last = (until + timedelta(days=1)).astimezone(zone).date()
    days = []
    while day <= last:
        days.append(day)
        if period == ReportPeriod.day:
            day += timedelta(days=1)
        elif period == ReportPeriod.week:
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return days


def _prefix(day: date, at: datetime) -> str:
    """What opens each row of a period: its first local day and that day's start in UTC."""
    instant = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f'{{"period_start":"{day.isoformat()}","period_start_at":"{instant}",'


def _text(value: str) -> ColumnElement[str]:
    return literal(value, String)


def _json(value: Any) -> ColumnElement[str]:
    """A value as JSON text (strings quoted and escaped), `null` for NULL."""
    return func.coalesce(cast(func.to_json(value), Text), _text("null"))


def _number(value: Any) -> ColumnElement[str]:
    """An amount as a JSON string without trailing zeros (`format(Decimal.normalize(), "f")`)."""
    return _text('"') + cast(func.trim_scale(value), Text) + _text('"')


def _amount(value: Any, units: Any) -> ColumnElement[str]:
    """A cost rounded to its currency's minor units shows them all (`amount_text`); null stays null."""
    digits = case((units.is_(None), func.trim_scale(value)), else_=value)
    return func.coalesce(_text('"') + cast(digits, Text) + _text('"'), _text("null"))


def _ordered(value: Any) -> ColumnElement[str]:
    return func.coalesce(cast(value, Text), _text("")).collate("C")


class ReportJsonRepository(Repository[ChargingSession]):
    model = ChargingSession

    async def report_json(
        self,
        filters: SessionFilters,
        dimension: ReportDimension,
        period: ReportPeriod,
        zone: ZoneInfo,
    ) -> ReportJson | None:
        """None on SQLite, which has no time zones (`ReportRepository` buckets in Python there)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        assert filters.started_from is not None and filters.started_until is not None
        prefixes = [
            (day, _prefix(day, period_start_at(day, zone)))
            for day in periods_around(filters.started_from, filters.started_until, zone, period)
        ]
        table = ChargingSession.__table__
        keys, name = key_columns(dimension)
        units = values(column("code", String), column("units", Integer), name="minor_units").data(
            list(minor_units_table())
        )
        starts = values(column("day", Date), column("prefix", String), name="periods").data(prefixes)
        bucket = cast(func.date_trunc(period.value, func.timezone(zone.key, table.c.started_at)), Date)
        cost = func.sum(table.c.cost)
        grouped = (
            select(
                bucket.label("bucket"),
                *(table.c[key].label(key) for key in keys),
                func.max(table.c[name].collate("C")).label("name"),
                table.c.currency,
                units.c.units,
                func.count().label("session_count"),
                func.coalesce(func.sum(table.c.energy_kwh), 0).label("energy"),
                case((units.c.units.is_(None), cost), else_=func.round(cost, units.c.units)).label("cost"),
            )
            .select_from(table.outerjoin(units, units.c.code == table.c.currency))
            .where(*session_conditions(self.organization_id, filters))
            .group_by(bucket, *(table.c[key] for key in keys), table.c.currency, units.c.units)
            .cte("grouped")
        )
        key_id = grouped.c.card_id if dimension == ReportDimension.card else grouped.c[keys[0]]
        uid = grouped.c.id_token if dimension == ReportDimension.card else cast(null(), Text)
        row = (
            starts.c.prefix + _text('"id":') + _json(key_id) + _text(',"name":') + _json(grouped.c.name)
            + _text(',"uid":') + _json(uid) + _text(',"currency":') + _json(grouped.c.currency)
            + _text(',"session_count":') + cast(grouped.c.session_count, Text)
            + _text(',"energy_kwh":') + _number(grouped.c.energy)
            + _text(',"cost":') + _amount(grouped.c.cost, grouped.c.units) + _text("}")
        )  # fmt: skip
        order = (_ordered(grouped.c.name), _ordered(key_id), _ordered(uid), _ordered(grouped.c.currency))
        rows = (
            select(
                literal(0, Integer).label("part"),
                grouped.c.bucket,
                func.string_agg(row, aggregate_order_by(_text(","), *order)).label("json"),
            )
            .select_from(grouped.join(starts, starts.c.day == grouped.c.bucket))
            .group_by(grouped.c.bucket)
        )
        per_currency = (
            select(
                grouped.c.currency,
                grouped.c.units,
                func.sum(grouped.c.session_count).label("session_count"),
                func.sum(grouped.c.energy).label("energy"),
                func.sum(grouped.c.cost).label("cost"),
            )
            .group_by(grouped.c.currency, grouped.c.units)
            .subquery("per_currency")
        )
        total = (
            _text('{"currency":') + _json(per_currency.c.currency)
            + _text(',"session_count":') + cast(per_currency.c.session_count, Text)
            + _text(',"energy_kwh":') + _number(per_currency.c.energy)
            + _text(',"cost":') + _amount(per_currency.c.cost, per_currency.c.units) + _text("}")
        )  # fmt: skip
        totals = select(
            literal(1, Integer).label("part"),
            cast(null(), Date).label("bucket"),
            func.string_agg(total, aggregate_order_by(_text(","), _ordered(per_currency.c.currency))).label(
                "json"
            ),
        )
        both = union_all(rows, totals).subquery("parts")
        statement = select(both.c.part, both.c.json).order_by(both.c.part, both.c.bucket)
        found = ReportJson(rows=[], totals="")
        for part in (await self.session.execute(statement)).mappings():  # label -> value
            if part["part"] == 0:
                found.rows.append(part["json"])
            else:
                found = ReportJson(rows=found.rows, totals=part["json"] or "")
        return found
