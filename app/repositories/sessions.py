import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from app.enums import SessionStatus
from app.models import (
    ChargingSession,
    TariffVersion,
)
from app.models.base import AUDITED_BULK
from app.pagination import PageRequest
from app.repositories.base import Repository

__all__ = ["SessionFilters", "SessionRepository"]


@dataclass(frozen=True)
class SessionFilters:
    user_group_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    charging_group_id: uuid.UUID | None = None
    connector_id: uuid.UUID | None = None
    status: SessionStatus | None = None
    transaction_id: str | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE of these filters (the list, the export and the reports)."""
        conditions: list[ColumnElement[bool]] = [
            column == value
            for column, value in (
                (ChargingSession.user_group_id, self.user_group_id),
                (ChargingSession.card_id, self.card_id),
                (ChargingSession.charging_group_id, self.charging_group_id),
                (ChargingSession.connector_id, self.connector_id),
                (ChargingSession.status, self.status),
                (ChargingSession.transaction_id, self.transaction_id),
            )
            if value is not None
        ]
        if self.started_from is not None:
            conditions.append(ChargingSession.started_at >= self.started_from)
        if self.started_until is not None:
            conditions.append(ChargingSession.started_at < self.started_until)
        return conditions


class SessionRepository(Repository[ChargingSession]):
    model = ChargingSession

    async def exists_for_group(self, user_group_id: uuid.UUID) -> bool:
        statement = select(ChargingSession.id).where(ChargingSession.user_group_id == user_group_id).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def count_by_group(self, user_group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not user_group_ids:
            return {}
        statement = (
            select(ChargingSession.user_group_id, func.count())
            .where(ChargingSession.user_group_id.in_(user_group_ids))
            .group_by(ChargingSession.user_group_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {group_id: int(count) for group_id, count in rows if group_id is not None}

    async def by_transaction_id(self, transaction_id: str) -> ChargingSession | None:
        statement = self.base_statement().where(ChargingSession.transaction_id == transaction_id)
        found: ChargingSession | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def insert_once(self, **values: Any) -> ChargingSession | None:
        """INSERT ... ON CONFLICT (organization_id, transaction_id) DO NOTHING RETURNING the row:
        None when the transaction id is already recorded. On PostgreSQL, a concurrent uncommitted
        insert of the same id makes this wait for that transaction; once it committed, the next
        statement of this (READ COMMITTED) transaction sees its row."""
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(ChargingSession)
            .values(organization_id=self.organization_id, **values)
            .on_conflict_do_nothing(index_elements=["organization_id", "transaction_id"])
            .returning(ChargingSession)
            # The service records the new row itself (app/services/sessions.py start_session).
            .execution_options(**{AUDITED_BULK: True})
        )
        inserted: ChargingSession | None = (await self.session.scalars(statement)).one_or_none()
        return inserted

    async def tariff_in_force(self, user_group_id: uuid.UUID, at: datetime) -> TariffVersion | None:
        statement = (
            select(TariffVersion)
            .where(
                TariffVersion.user_group_id == user_group_id,
                TariffVersion.valid_from <= at,
                or_(TariffVersion.valid_until.is_(None), TariffVersion.valid_until > at),
            )
            .order_by(TariffVersion.valid_from.desc())
            .limit(1)
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    def _filtered(self, filters: SessionFilters) -> Select[ChargingSession]:
        return self.base_statement().where(*filters.conditions())

    async def search(
        self, page: PageRequest, filters: SessionFilters
    ) -> tuple[Sequence[ChargingSession], bool]:
        return await self.page(self._filtered(filters), page)

    async def stream(self, filters: SessionFilters) -> AsyncIterator[ChargingSession]:
        """Every matching session, oldest first, fetched in batches through a server-side cursor."""
        statement = self._filtered(filters).order_by(ChargingSession.created_at, ChargingSession.id)
        result = await self.session.stream_scalars(statement.execution_options(yield_per=1000))
        async for charging_session in result:
            yield charging_session
