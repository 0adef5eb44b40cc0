"""Charging groups, and the organization's infrastructure counters kept beside them."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChargePoint, ChargingGroup, Organization
from app.models.base import AUDITED_BULK
from app.pagination import PageRequest
from app.repositories.base import Repository, UniqueValueMixin, paginate


def _charge_points_of_group() -> Any:
    return (
        select(func.count(ChargePoint.id))
        .where(ChargePoint.charging_group_id == ChargingGroup.id)
        .correlate(ChargingGroup)
        .scalar_subquery()
    )


class ChargingGroupRepository(UniqueValueMixin, Repository[ChargingGroup]):
    model = ChargingGroup

    def _with_counts(self) -> Select[ChargingGroup, int]:
        """The group and its charge points, counted live (its connectors are a kept counter,
        `ChargingGroup.connector_count`, as the activation totals read it)."""
        return select(ChargingGroup, _charge_points_of_group().label("charge_point_count")).where(
            ChargingGroup.organization_id == self.organization_id
        )

    async def get_with_counts(self, id_: uuid.UUID) -> Row[ChargingGroup, int] | None:
        result = await self.session.execute(self._with_counts().where(ChargingGroup.id == id_))
        return result.first()

    async def page_with_counts(self, page: PageRequest) -> tuple[Sequence[Row[ChargingGroup, int]], bool]:
        rows = (await self.session.execute(paginate(self._with_counts(), ChargingGroup, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def has_charge_points(self, id_: uuid.UUID) -> bool:
        statement = select(exists().where(ChargePoint.charging_group_id == id_))
        return bool((await self.session.execute(statement)).scalar())


async def count_infrastructure(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    charging_groups: int = 0,
    connectors: int = 0,
    charging_group_id: uuid.UUID | None = None,
) -> None:
    """Adds to the organization's counters (and to the charging group's connector count) in the
    same transaction, as atomic increments."""
    await session.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(
            charging_group_count=Organization.charging_group_count + charging_groups,
            connector_count=Organization.connector_count + connectors,
        )
        .execution_options(synchronize_session=False)
    )
    if charging_group_id is not None and connectors:
        await move_connector_count(session, charging_group_id, connectors)


async def move_connector_count(session: AsyncSession, charging_group_id: uuid.UUID, delta: int) -> None:
    await session.execute(
        update(ChargingGroup)
        .where(ChargingGroup.id == charging_group_id)
        .values(connector_count=ChargingGroup.connector_count + delta)
        # connector_count is internal to the audit: the connectors' own records say what changed.
        .execution_options(synchronize_session=False, **{AUDITED_BULK: True})
    )
