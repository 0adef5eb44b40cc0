import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select

from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.base import Repository, paginate


@dataclass(frozen=True)
class AuditFilters:
    """Which records: each filter given narrows the trail; `since` inclusive, `until` exclusive."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    user_group_id: uuid.UUID | None = None
    actor_api_key_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def search(self, page: PageRequest, filters: AuditFilters) -> tuple[Sequence[AuditEvent], bool]:
        return await self.page(self._filtered(filters), page)

    async def search_rows(self, page: PageRequest, filters: AuditFilters) -> tuple[Sequence[Row[Any]], bool]:
        """As `search`, as plain rows (Core, no ORM objects): what the JSON pages read."""
        statement = self._filtered(filters).with_only_columns(*AuditEvent.__table__.columns)
        rows = (await self.session.execute(paginate(statement, AuditEvent, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def stream(self, filters: AuditFilters) -> AsyncIterator[AuditEvent]:
        """Every matching record, oldest first, in batches through a server-side cursor."""
        statement = self._filtered(filters).order_by(AuditEvent.created_at, AuditEvent.id)
        result = await self.session.stream_scalars(statement.execution_options(yield_per=1000))
        async for event in result:
            yield event

    def _filtered(self, filters: AuditFilters) -> Select[AuditEvent]:
        statement = self.base_statement()
        for column, value in (
            (AuditEvent.entity_type, filters.entity_type),
            (AuditEvent.entity_id, filters.entity_id),
            (AuditEvent.user_group_id, filters.user_group_id),
            (AuditEvent.actor_api_key_id, filters.actor_api_key_id),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if filters.since is not None:
            statement = statement.where(AuditEvent.created_at >= filters.since)
        if filters.until is not None:
            statement = statement.where(AuditEvent.created_at < filters.until)
        return statement
