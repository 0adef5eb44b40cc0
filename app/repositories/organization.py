import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Organization, OrganizationSettings


class OrganizationRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def get(self, *, for_update: bool = False) -> Organization:
        statement = select(Organization).where(Organization.id == self.organization_id)
        if for_update:
            statement = statement.with_for_update()
        organization: Organization = (await self.session.execute(statement)).scalar_one()
        return organization

    async def settings(self) -> OrganizationSettings | None:
        statement = select(OrganizationSettings).where(
            OrganizationSettings.organization_id == self.organization_id
        )
        found: OrganizationSettings | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def time_zone(self) -> str | None:
        statement = select(OrganizationSettings.time_zone).where(
            OrganizationSettings.organization_id == self.organization_id
        )
        zone: str | None = (await self.session.execute(statement)).scalar_one_or_none()
        return zone

    def add_settings(self, settings: OrganizationSettings) -> OrganizationSettings:
        self.session.add(settings)
        return settings
