import uuid
from collections.abc import Sequence
from datetime import datetime

from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.base import Repository


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def search(
        self,
        page: PageRequest,
        *,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        user_group_id: uuid.UUID | None = None,
        actor_api_key_id: uuid.UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[Sequence[AuditEvent], bool]:
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
        return await self.page(statement, page)
