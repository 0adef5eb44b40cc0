"""Reading the audit trail (writing it: app/services/audit.py)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.audit_events import AuditEventRepository, AuditFilters
from app.services.context import RequestContext

__all__ = ["AuditFilters", "search"]


async def search(
    session: AsyncSession, ctx: RequestContext, page: PageRequest, filters: AuditFilters
) -> tuple[Sequence[AuditEvent], bool]:
    return await AuditEventRepository(session, ctx.organization_id).search(page, filters)
