import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
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

__all__ = ["SessionFilters", "SessionRepository", "session_conditions"]


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


def session_conditions(organization_id: uuid.UUID, filters: SessionFilters) -> list[ColumnElement[bool]]:
    """The one reading of the session filters: the list, its export and the reports select alike."""
    conditions: list[ColumnElement[bool]] = [ChargingSession.organization_id == organization_id]
    for column, value in (
        (ChargingSession.user_group_id, filters.user_group_id),
        (ChargingSession.card_id, filters.card_id),
        (ChargingSession.charging_group_id, filters.charging_group_id),
        (ChargingSession.connector_id, filters.connector_id),
        (ChargingSession.status, filters.status),
        (ChargingSession.transaction_id, filters.transaction_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.started_from is not None:
        conditions.append(ChargingSession.started_at >= filters.started_from)
    if filters.started_until is not None:
        conditions.append(ChargingSession.started_at < filters.started_until)
    return conditions


class SessionRepository(Repository[ChargingSession]):
    model = ChargingSession

    async def exists_for_group(self, user_group_id: uuid.UUID) -> bool:
        statement = select(ChargingSession.id).where(ChargingSession.user_group_id == user_group_id).limit(1)
        return (await self.session.execute(statement)).first() is not None

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
        return select(ChargingSession).where(*session_conditions(self.organization_id, filters))

    async def search(
        self, page: PageRequest, filters: SessionFilters
    ) -> tuple[Sequence[ChargingSession], bool]:
        return await self.page(self._filtered(filters), page)
