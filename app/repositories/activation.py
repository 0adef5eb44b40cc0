"""Where a user group's cards may charge: its activations on charging groups, with totals."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope
from app.models import (
    Activation,
    ChargePoint,
    ChargingGroup,
    Connector,
    Organization,
)
from app.pagination import PageRequest
from app.repositories.base import paginate


@dataclass(frozen=True)
class ActivationTotals:
    charging_groups: int
    connectors: int


class ActivationRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    def _charging_groups(self) -> Select[ChargingGroup, int]:
        connectors = (
            select(func.count(Connector.id))
            .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
            .where(ChargePoint.charging_group_id == ChargingGroup.id)
            .correlate(ChargingGroup)
            .scalar_subquery()
        )
        return select(ChargingGroup, connectors.label("connector_count")).where(
            ChargingGroup.organization_id == self.organization_id
        )

    async def charging_group_ids(self, user_group_id: uuid.UUID) -> set[uuid.UUID]:
        statement = select(Activation.charging_group_id).where(Activation.user_group_id == user_group_id)
        return set((await self.session.execute(statement)).scalars().all())

    async def all_charging_group_ids(self) -> set[uuid.UUID]:
        statement = select(ChargingGroup.id).where(ChargingGroup.organization_id == self.organization_id)
        return set((await self.session.execute(statement)).scalars().all())

    async def charging_groups_with_connectors(
        self, ids: Iterable[uuid.UUID] | None
    ) -> Sequence[tuple[ChargingGroup, int]]:
        """The given charging groups of the organization (all when `ids` is None), by name."""
        statement = self._charging_groups()
        if ids is not None:
            statement = statement.where(ChargingGroup.id.in_(list(ids)))
        rows = (await self.session.execute(statement.order_by(ChargingGroup.name))).all()
        return [(group, int(count)) for group, count in rows]

    async def page_active(
        self, user_group_id: uuid.UUID, scope: ActivationScope, page: PageRequest
    ) -> tuple[Sequence[tuple[ChargingGroup, int]], bool]:
        statement = self._charging_groups()
        if scope == ActivationScope.custom:
            statement = statement.join(
                Activation,
                (Activation.charging_group_id == ChargingGroup.id)
                & (Activation.user_group_id == user_group_id),
            )
        rows = (await self.session.execute(paginate(statement, ChargingGroup, page))).all()
        return [(group, int(count)) for group, count in rows[: page.limit]], len(rows) > page.limit

    async def organization_totals(self) -> ActivationTotals:
        """The whole infrastructure, from the organization's counters: constant time."""
        statement = select(Organization.charging_group_count, Organization.connector_count).where(
            Organization.id == self.organization_id
        )
        charging_groups, connectors = (await self.session.execute(statement)).one()
        return ActivationTotals(int(charging_groups), int(connectors))

    async def custom_totals(self, user_group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ActivationTotals]:
        """Charging groups and connectors per user group, from its activations (one query)."""
        if not user_group_ids:
            return {}
        statement = (
            select(Activation.user_group_id, func.count(), func.sum(ChargingGroup.connector_count))
            .join(ChargingGroup, ChargingGroup.id == Activation.charging_group_id)
            .where(Activation.user_group_id.in_(user_group_ids))
            .group_by(Activation.user_group_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {
            group_id: ActivationTotals(int(groups), int(connectors or 0))
            for group_id, groups, connectors in rows
        }

    def add(self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID]) -> None:
        self.session.add_all(
            Activation(
                user_group_id=user_group_id,
                charging_group_id=charging_group_id,
                organization_id=self.organization_id,
            )
            for charging_group_id in charging_group_ids
        )

    async def remove(self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID] | None) -> None:
        """Removes the given activations of the group (all when `charging_group_ids` is None)."""
        statement = delete(Activation).where(Activation.user_group_id == user_group_id)
        if charging_group_ids is not None:
            statement = statement.where(Activation.charging_group_id.in_(list(charging_group_ids)))
        await self.session.execute(statement)
