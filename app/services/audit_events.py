import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.audit_events import AuditEventRepository
from app.services.context import RequestContext


async def search(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    *,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    user_group_id: uuid.UUID | None = None,
    actor_api_key_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[AuditEvent], bool]:
    return await AuditEventRepository(session, ctx.organization_id).search(
        page,
        entity_type=entity_type,
        entity_id=entity_id,
        user_group_id=user_group_id,
        actor_api_key_id=actor_api_key_id,
        since=since,
        until=until,
    )
