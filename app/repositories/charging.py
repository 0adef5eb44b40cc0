import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.models import ChargePoint, ChargingGroup, Connector, Organization
from app.models.base import AUDITED_BULK
from app.pagination import PageRequest
from app.repositories.base import Repository, paginate


def _connectors_of_group() -> Any:
    return (
        select(func.count(Connector.id))
        .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
        .where(ChargePoint.charging_group_id == ChargingGroup.id)
        .correlate(ChargingGroup)
        .scalar_subquery()
    )


def _charge_points_of_group() -> Any:
    return (
        select(func.count(ChargePoint.id))
        .where(ChargePoint.charging_group_id == ChargingGroup.id)
        .correlate(ChargingGroup)
        .scalar_subquery()
    )


class UniqueValueMixin:
    async def value_taken(
        self: Any,
        column: InstrumentedAttribute[Any],
        value: Any,
        exclude_id: uuid.UUID | None = None,
    ) -> bool:
        statement = select(self.model.id).where(
            self.model.organization_id == self.organization_id, column == value
        )
        if exclude_id is not None:
            statement = statement.where(self.model.id != exclude_id)
        return (await self.session.execute(statement.limit(1))).first() is not None


class ChargingGroupRepository(UniqueValueMixin, Repository[ChargingGroup]):
    model = ChargingGroup

    def _with_counts(self) -> Select[ChargingGroup, int, int]:
        return select(
            ChargingGroup,
            _charge_points_of_group().label("charge_point_count"),
            _connectors_of_group().label("connector_count"),
        ).where(ChargingGroup.organization_id == self.organization_id)

    async def get_with_counts(self, id_: uuid.UUID) -> Row[ChargingGroup, int, int] | None:
        result = await self.session.execute(self._with_counts().where(ChargingGroup.id == id_))
        return result.first()

    async def page_with_counts(
        self, page: PageRequest
    ) -> tuple[Sequence[Row[ChargingGroup, int, int]], bool]:
        rows = (await self.session.execute(paginate(self._with_counts(), ChargingGroup, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def has_charge_points(self, id_: uuid.UUID) -> bool:
        statement = select(exists().where(ChargePoint.charging_group_id == id_))
        return bool((await self.session.execute(statement)).scalar())


class ChargePointRepository(UniqueValueMixin, Repository[ChargePoint]):
    model = ChargePoint

    def _with_counts(self) -> Select[ChargePoint, int]:
        connectors = (
            select(func.count(Connector.id))
            .where(Connector.charge_point_id == ChargePoint.id)
            .correlate(ChargePoint)
            .scalar_subquery()
        )
        return select(ChargePoint, connectors.label("connector_count")).where(
            ChargePoint.organization_id == self.organization_id
        )

    async def get_with_counts(self, id_: uuid.UUID) -> Row[ChargePoint, int] | None:
        return (await self.session.execute(self._with_counts().where(ChargePoint.id == id_))).first()

    async def page_with_counts(
        self, page: PageRequest, charging_group_id: uuid.UUID | None
    ) -> tuple[Sequence[Row[ChargePoint, int]], bool]:
        statement = self._with_counts()
        if charging_group_id is not None:
            statement = statement.where(ChargePoint.charging_group_id == charging_group_id)
        rows = (await self.session.execute(paginate(statement, ChargePoint, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def controller_of(self, charging_group_id: uuid.UUID) -> ChargePoint | None:
        statement = self.base_statement().where(
            ChargePoint.charging_group_id == charging_group_id, ChargePoint.role == "controller"
        )
        controller: ChargePoint | None = (await self.session.execute(statement)).scalar_one_or_none()
        return controller

    async def connectors_of(self, charge_point_id: uuid.UUID) -> Sequence[Connector]:
        statement = select(Connector).where(Connector.charge_point_id == charge_point_id)
        return (await self.session.execute(statement)).scalars().all()


class ConnectorRepository(UniqueValueMixin, Repository[Connector]):
    model = Connector

    def _with_group(self) -> Select[Connector, uuid.UUID]:
        return (
            select(Connector, ChargePoint.charging_group_id)
            .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
            .where(Connector.organization_id == self.organization_id)
        )

    async def get_with_group(self, id_: uuid.UUID) -> Row[Connector, uuid.UUID] | None:
        return (await self.session.execute(self._with_group().where(Connector.id == id_))).first()

    async def page_with_group(
        self,
        page: PageRequest,
        charge_point_id: uuid.UUID | None,
        charging_group_id: uuid.UUID | None,
    ) -> tuple[Sequence[Row[Connector, uuid.UUID]], bool]:
        statement = self._with_group()
        if charge_point_id is not None:
            statement = statement.where(Connector.charge_point_id == charge_point_id)
        if charging_group_id is not None:
            statement = statement.where(ChargePoint.charging_group_id == charging_group_id)
        rows = (await self.session.execute(paginate(statement, Connector, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def number_taken(self, charge_point_id: uuid.UUID, number: int) -> bool:
        statement = select(Connector.id).where(
            Connector.charge_point_id == charge_point_id, Connector.connector_number == number
        )
        return (await self.session.execute(statement.limit(1))).first() is not None


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
