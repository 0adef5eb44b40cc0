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

from sqlalchemy import Date, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from app.enums import ReportDimension, ReportPeriod
from app.models import ChargingSession
from app.repositories.base import Repository
from app.repositories.sessions import SessionFilters


@dataclass(frozen=True)
class ReportKey:
    id: uuid.UUID | None
    name: str | None
    uid: str | None  # cards: the UID, which outlives the card


@dataclass
class ReportRow:
    period_start: date
    key: ReportKey
    currency: str | None
    session_count: int
    energy_kwh: Decimal
    cost: Decimal | None


def _key_columns(dimension: ReportDimension) -> tuple[list[Any], ColumnElement[Any]]:
    """The columns a row is grouped by, and the name shown for it (as recorded with the sessions)."""
    if dimension == ReportDimension.user_group:
        return [ChargingSession.user_group_id], func.max(ChargingSession.user_group_name)
    if dimension == ReportDimension.charging_group:
        return [ChargingSession.charging_group_id], func.max(ChargingSession.charging_group_name)
    return [ChargingSession.id_token, ChargingSession.card_id], func.max(ChargingSession.card_label)


def local_period_start(at: datetime, zone: ZoneInfo, period: ReportPeriod) -> date:
    day = at.astimezone(zone).date()
    if period == ReportPeriod.day:
        return day
    if period == ReportPeriod.week:
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


class ReportRepository(Repository[ChargingSession]):
    model = ChargingSession

    async def session_report(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        if self.session.get_bind().dialect.name == "postgresql":
            return await self._in_sql(filters, dimension, period, zone)
        return await self._in_python(filters, dimension, period, zone)

    def _where(self, filters: SessionFilters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [ChargingSession.organization_id == self.organization_id]
        for column, value in (
            (ChargingSession.user_group_id, filters.user_group_id),
            (ChargingSession.card_id, filters.card_id),
            (ChargingSession.charging_group_id, filters.charging_group_id),
            (ChargingSession.connector_id, filters.connector_id),
            (ChargingSession.status, filters.status),
        ):
            if value is not None:
                conditions.append(column == value)
        if filters.started_from is not None:
            conditions.append(ChargingSession.started_at >= filters.started_from)
        if filters.started_until is not None:
            conditions.append(ChargingSession.started_at < filters.started_until)
        return conditions

    async def _in_sql(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        keys, name = _key_columns(dimension)
        bucket = cast(
            func.date_trunc(period.value, func.timezone(zone.key, ChargingSession.started_at)), Date
        ).label("bucket")
        statement = (
            select(
                bucket,
                *keys,
                name,
                ChargingSession.currency,
                func.count(),
                func.sum(ChargingSession.energy_kwh),
                func.sum(ChargingSession.cost),
            )
            .where(*self._where(filters))
            .group_by(bucket, *keys, ChargingSession.currency)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            _row(dimension, row[0], row[1 : 1 + len(keys)], row[1 + len(keys)], row[2 + len(keys) :])
            for row in rows
        ]

    async def _in_python(
        self, filters: SessionFilters, dimension: ReportDimension, period: ReportPeriod, zone: ZoneInfo
    ) -> list[ReportRow]:
        keys, _ = _key_columns(dimension)
        label = {
            ReportDimension.user_group: ChargingSession.user_group_name,
            ReportDimension.charging_group: ChargingSession.charging_group_name,
            ReportDimension.card: ChargingSession.card_label,
        }[dimension]
        statement = select(
            ChargingSession.started_at,
            *keys,
            label,
            ChargingSession.currency,
            ChargingSession.energy_kwh,
            ChargingSession.cost,
        ).where(*self._where(filters))
        totals: dict[tuple[Any, ...], ReportRow] = {}
        result = await self.session.stream(statement.execution_options(yield_per=2000))
        async for row in result:
            started_at, key_values = row[0], tuple(row[1 : 1 + len(keys)])
            name, currency, energy, cost = row[1 + len(keys) :]
            bucket = local_period_start(started_at, zone, period)
            entry = totals.get((bucket, key_values, currency))
            if entry is None:
                entry = _row(dimension, bucket, key_values, name, (0, None, None))
                totals[(bucket, key_values, currency)] = entry
                entry.currency = currency
            elif name is not None and (entry.key.name is None or name > entry.key.name):
                entry.key = ReportKey(entry.key.id, name, entry.key.uid)  # max(), as SQL takes it
            entry.session_count += 1
            if energy is not None:
                entry.energy_kwh += energy
            if cost is not None:
                entry.cost = (entry.cost or Decimal(0)) + cost
        return list(totals.values())


def _row(
    dimension: ReportDimension, bucket: date, key_values: Sequence[Any], name: str | None, sums: Sequence[Any]
) -> ReportRow:
    count, energy, cost = sums[-3], sums[-2], sums[-1]
    if dimension == ReportDimension.card:
        key = ReportKey(id=key_values[1], name=name, uid=key_values[0])
    else:
        key = ReportKey(id=key_values[0], name=name, uid=None)
    currency = sums[0] if len(sums) == 4 else None
    return ReportRow(
        period_start=bucket,
        key=key,
        currency=currency,
        session_count=int(count),
        energy_kwh=Decimal(energy) if energy is not None else Decimal(0),
        cost=Decimal(cost) if cost is not None else None,
    )
