import uuid
from collections.abc import Sequence

from sqlalchemy import Row, Select, select

from app.models import ChargePoint, Connector
from app.pagination import PageRequest
from app.repositories.base import Repository, UniqueValueMixin, paginate


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
