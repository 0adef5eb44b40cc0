import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select

from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.base import Repository


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def search(self, page: PageRequest, **filters: Any) -> tuple[Sequence[AuditEvent], bool]:
        return await self.page(self._filtered(**filters), page)

    async def stream(self, **filters: Any) -> AsyncIterator[AuditEvent]:
        """Every matching record, oldest first, in batches through a server-side cursor."""
        statement = self._filtered(**filters).order_by(AuditEvent.created_at, AuditEvent.id)
        result = await self.session.stream_scalars(statement.execution_options(yield_per=1000))
        async for event in result:
            yield event

    def _filtered(
        self,
        *,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        user_group_id: uuid.UUID | None = None,
        actor_api_key_id: uuid.UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[AuditEvent]:
        statement = self.base_statement()
        if entity_type is not None:
            statement = statement.where(AuditEvent.entity_type == entity_type)
        if entity_id is not None:
            statement = statement.where(AuditEvent.entity_id == entity_id)
        if user_group_id is not None:
            statement = statement.where(AuditEvent.user_group_id == user_group_id)
        if actor_api_key_id is not None:
            statement = statement.where(AuditEvent.actor_api_key_id == actor_api_key_id)
        if since is not None:
            statement = statement.where(AuditEvent.created_at >= since)
        if until is not None:
            statement = statement.where(AuditEvent.created_at < until)
        return statement
