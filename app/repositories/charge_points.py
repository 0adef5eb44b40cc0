import uuid
from collections.abc import Sequence

from sqlalchemy import Row, Select, func, select

from app.models import ChargePoint, Connector
from app.pagination import PageRequest
from app.repositories.base import Repository, UniqueValueMixin, paginate


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
