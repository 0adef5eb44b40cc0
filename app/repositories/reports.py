"""The session report's one query: count, energy and documented cost per period, key and currency.

PostgreSQL groups in SQL: `date_trunc` of the start time read in the organization's zone
(`timezone(zone, started_at)`), so days, weeks (Monday) and months follow that zone across daylight
saving changes. SQLite has no zones and sums ExactDecimal text as floats: there the rows stream and
are bucketed and summed in Python with zoneinfo and Decimal, to the same result.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Numeric, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from app.enums import ReportDimension, ReportPeriod
from app.models import ChargingSession
from app.repositories.base import Repository
from app.repositories.sessions import SessionFilters


@dataclass(frozen=True, slots=True)
class ReportKey:
    id: uuid.UUID | None
    name: str | None
    uid: str | None  # cards: the UID, which outlives the card


@dataclass(slots=True)
class ReportRow:
    period_start: date
    key: ReportKey
    currency: str | None
    session_count: int
    energy_kwh: Decimal
    cost: Decimal | None


def _key_columns(dimension: ReportDimension) -> tuple[list[str], str]:
    """The columns a row is grouped by, and the one whose (greatest) value names it: the names as
    recorded with the sessions. Cards are keyed by UID, which outlives the card."""
    if dimension == ReportDimension.user_group:
        return ["user_group_id"], "user_group_name"
    if dimension == ReportDimension.charging_group:
        return ["charging_group_id"], "charging_group_name"
    return ["id_token", "card_id"], "card_label"


def local_period_start(at: datetime, zone: ZoneInfo, period: ReportPeriod) -> date:
    day = at.astimezone(zone).date()
    if period == ReportPeriod.day:
        return day
    if period == ReportPeriod.week:
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


_ZERO = Decimal(0)


class ReportRepository(Repository[ChargingSession]):
    model = ChargingSession

    async def session_report(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        if self.session.get_bind().dialect.name == "postgresql":
            return await self._in_sql(filters, dimension, period, zone)
        return await self._in_python(filters, dimension, period, zone)

    def _where(self, filters: SessionFilters) -> list[ColumnElement[bool]]:
        return [ChargingSession.organization_id == self.organization_id, *filters.conditions()]

    async def _in_sql(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        # Core columns and plain NUMERIC sums: the driver's own values, without ORM row loading or a
        # Python conversion per value (a month per card or per group and day is 10^5 rows).
        table = ChargingSession.__table__
        keys, name = _key_columns(dimension)
        key_columns = [table.c[key] for key in keys]
        name_column = table.c[name]
        bucket = cast(func.date_trunc(period.value, func.timezone(zone.key, table.c.started_at)), Date)
        statement = (
            select(
                bucket.label("bucket"),
                *(column.label(column.name) for column in key_columns),
                func.max(name_column).label("name"),
                table.c.currency,
                func.count().label("session_count"),
                func.sum(table.c.energy_kwh, type_=Numeric(asdecimal=True)).label("energy_kwh"),
                func.sum(table.c.cost, type_=Numeric(asdecimal=True)).label("cost"),
            )
            .where(*self._where(filters))
            .group_by(bucket, *key_columns, table.c.currency)
        )
        rows: list[ReportRow] = []
        # Each result is a mapping from column label to value (read by name, never by position).
        for values in (await self.session.execute(statement)).mappings():
            key = _key(dimension, [values[key] for key in keys], values["name"])
            energy = values["energy_kwh"]
            rows.append(
                ReportRow(
                    values["bucket"],
                    key,
                    values["currency"],
                    values["session_count"],
                    energy if energy is not None else _ZERO,
                    values["cost"],
                )
            )
        return rows

    async def _in_python(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        key_names, name_key = _key_columns(dimension)
        keys = [getattr(ChargingSession, key) for key in key_names]
        statement = select(
            ChargingSession.started_at,
            *keys,
            getattr(ChargingSession, name_key),
            ChargingSession.currency,
            ChargingSession.energy_kwh,
            ChargingSession.cost,
        ).where(*self._where(filters))
        totals: dict[tuple[Any, ...], ReportRow] = {}
        result = await self.session.stream(statement.execution_options(yield_per=2000))
        async for values in result.mappings():  # column name -> value
            started_at, key_values = values["started_at"], tuple(values[key] for key in key_names)
            name, currency = values[name_key], values["currency"]
            energy, cost = values["energy_kwh"], values["cost"]
            bucket = local_period_start(started_at, zone, period)
            entry = totals.get((bucket, key_values, currency))
            if entry is None:
                entry = ReportRow(bucket, _key(dimension, key_values, name), currency, 0, _ZERO, None)
                totals[(bucket, key_values, currency)] = entry
            elif name is not None and (entry.key.name is None or name > entry.key.name):
                entry.key = ReportKey(entry.key.id, name, entry.key.uid)  # max(), as SQL takes it
            entry.session_count += 1
            if energy is not None:
                entry.energy_kwh += energy
            if cost is not None:
                entry.cost = (entry.cost or Decimal(0)) + cost
        return list(totals.values())


def _key(dimension: ReportDimension, key_values: Sequence[Any], name: str | None) -> ReportKey:
    if dimension == ReportDimension.card:
        return ReportKey(id=key_values[1], name=name, uid=key_values[0])
    return ReportKey(id=key_values[0], name=name, uid=None)
