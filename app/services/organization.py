"""The organization's own settings (the time zone of the session reports)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.models import OrganizationSettings
from app.repositories.organization import OrganizationRepository
from app.services import audit
from app.services.context import RequestContext

DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class OrganizationView:
    id: uuid.UUID
    name: str
    time_zone: str
    created_at: datetime


async def get_organization(session: AsyncSession, ctx: RequestContext) -> OrganizationView:
    repository = OrganizationRepository(session, ctx.organization_id)
    organization = await repository.get()
    settings = await repository.settings()
    return OrganizationView(
        id=organization.id,
        name=organization.name,
        time_zone=settings.time_zone if settings else DEFAULT_TIME_ZONE,
        created_at=organization.created_at,
    )


async def time_zone(session: AsyncSession, ctx: RequestContext) -> ZoneInfo:
    """The zone whose days, weeks and months the reports count in."""
    name = await OrganizationRepository(session, ctx.organization_id).time_zone()
    return ZoneInfo(name or DEFAULT_TIME_ZONE)


async def update_organization(session: AsyncSession, ctx: RequestContext, time_zone: str) -> OrganizationView:
    """`time_zone` is an IANA name already checked against zoneinfo (app/schemas/organization.py)."""
    repository = OrganizationRepository(session, ctx.organization_id)
    await repository.get(for_update=True)  # the first change creates the settings row: one at a time
    settings = await repository.settings()
    if settings is None:
        if time_zone == DEFAULT_TIME_ZONE:
            return await get_organization(session, ctx)  # the default it had: nothing changes
        # The first change writes the row (its creation record); the defaults applied until then.
        settings = repository.add_settings(
            OrganizationSettings(organization_id=ctx.organization_id, time_zone=time_zone)
        )
        await audit.record(session, ctx, AuditAction.organization_updated, settings)
    else:
        settings.time_zone = time_zone
        await audit.record(session, ctx, AuditAction.organization_updated, settings, only_if_changed=True)
    return await get_organization(session, ctx)
