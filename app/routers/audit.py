import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.enums import EntityType
from app.routers.deps import AuditReader, PageParams, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.audit import AuditEventRead
from app.schemas.common import Page, UtcDateTime
from app.services import audit_events as service
from app.services.audit_events import AuditFilters

router = APIRouter(route_class=ApiRoute, prefix="/audit-events", tags=["audit-events"])


def audit_filters(
    entity_type: Annotated[EntityType | None, Query()] = None,
    entity_id: Annotated[uuid.UUID | None, Query()] = None,
    user_group_id: Annotated[uuid.UUID | None, Query()] = None,
    actor_api_key_id: Annotated[uuid.UUID | None, Query()] = None,
    since: Annotated[UtcDateTime | None, Query(description="Inclusive lower bound (RFC 3339)")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Exclusive upper bound (RFC 3339)")] = None,
) -> AuditFilters:
    """The audit trail's filters, for the list and for its CSV export."""
    return AuditFilters(
        entity_type=entity_type.value if entity_type else None,
        entity_id=entity_id,
        user_group_id=user_group_id,
        actor_api_key_id=actor_api_key_id,
        since=since,
        until=until,
    )


Filters = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("", response_model=Page[AuditEventRead])
async def list_audit_events(
    ctx: AuditReader, session: Uow, page: PageParams, filters: Filters
) -> Page[AuditEventRead]:
    """The organization's whole audit trail, newest first."""
    events, more = await service.search(session, ctx, page, filters)
    items = [AuditEventRead.model_validate(event) for event in events]
    return Page(items=items, next_cursor=next_cursor(items, more, lambda e: e.created_at, lambda e: e.id))
