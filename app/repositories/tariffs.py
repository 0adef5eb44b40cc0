"""Tariff versions of a user group (the newest in force)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select
from sqlalchemy.orm import aliased

from app.models import ChargingSession, TariffVersion
from app.models.base import utcnow
from app.pagination import PageRequest
from app.repositories.base import Repository, built_once


def upcoming_id(user_group_id: Any, after: Any) -> Any:
    """The id of the group's version that starts after `after` (at most one: a new schedule
    replaces it), as a scalar subquery: the writes read the entity by it
    (`TariffRepository.upcoming`), the group page joins it (`user_group_pages`)."""
    later = aliased(TariffVersion, name="later_tariff")
    return (
        select(later.id)
        .where(later.user_group_id == user_group_id, later.valid_from > after)
        .order_by(later.valid_from)
        .limit(1)
        .scalar_subquery()
    )


def _upcoming_statement() -> Select[TariffVersion]:
    id_type = TariffVersion.user_group_id.type
    return select(TariffVersion).where(
        TariffVersion.organization_id == bindparam("tariff_organization_id", type_=id_type),
        TariffVersion.id
        == upcoming_id(
            bindparam("tariff_user_group_id", type_=id_type),
            bindparam("tariff_after", type_=TariffVersion.valid_from.type),
        ),
    )


class TariffRepository(Repository[TariffVersion]):
    model = TariffVersion

    @staticmethod
    def _in_force(at: datetime) -> ColumnElement[bool]:
        return and_(
            TariffVersion.valid_from <= at,
            or_(TariffVersion.valid_until.is_(None), TariffVersion.valid_until > at),
        )

    async def current(self, user_group_id: uuid.UUID) -> TariffVersion | None:
        """The version in force now (a scheduled one is not, until it starts)."""
        statement = self.base_statement().where(
            TariffVersion.user_group_id == user_group_id, self._in_force(utcnow())
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def upcoming(self, user_group_id: uuid.UUID) -> TariffVersion | None:
        """The version that starts later (at most one: a new schedule replaces it)."""
        statement = built_once("upcoming_tariff", _upcoming_statement)
        values: dict[str, Any] = {"tariff_organization_id": self.organization_id, "tariff_after": utcnow()}
        values["tariff_user_group_id"] = user_group_id
        found: TariffVersion | None = (await self.session.execute(statement, values)).scalar_one_or_none()
        return found

    async def ending_at(self, user_group_id: uuid.UUID, at: datetime) -> TariffVersion | None:
        """The version that hands over to one starting at `at`."""
        statement = self.base_statement().where(
            TariffVersion.user_group_id == user_group_id, TariffVersion.valid_until == at
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalars().first()
        return found

    async def in_use(self, version_id: uuid.UUID) -> bool:
        statement = select(ChargingSession.id).where(ChargingSession.tariff_version_id == version_id).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def current_for_groups(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TariffVersion]:
        if not ids:
            return {}
        statement = self.base_statement().where(
            TariffVersion.user_group_id.in_(ids), self._in_force(utcnow())
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return {row.user_group_id: row for row in rows}

    async def versions(
        self, user_group_id: uuid.UUID, page: PageRequest
    ) -> tuple[Sequence[TariffVersion], bool]:
        statement = self.base_statement().where(TariffVersion.user_group_id == user_group_id)
        return await self.page(statement, page)
