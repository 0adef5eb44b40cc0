"""Tariff versions of a user group (the newest in force)."""

import uuid
from collections.abc import Sequence

from app.models import (
    TariffVersion,
)
from app.pagination import PageRequest
from app.repositories.base import Repository


class TariffRepository(Repository[TariffVersion]):
    model = TariffVersion

    async def current(self, user_group_id: uuid.UUID) -> TariffVersion | None:
        statement = self.base_statement().where(
            TariffVersion.user_group_id == user_group_id, TariffVersion.valid_until.is_(None)
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def current_for_groups(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TariffVersion]:
        if not ids:
            return {}
        statement = self.base_statement().where(
            TariffVersion.user_group_id.in_(ids), TariffVersion.valid_until.is_(None)
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return {row.user_group_id: row for row in rows}

    async def versions(
        self, user_group_id: uuid.UUID, page: PageRequest
    ) -> tuple[Sequence[TariffVersion], bool]:
        statement = self.base_statement().where(TariffVersion.user_group_id == user_group_id)
        return await self.page(statement, page)
