from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey, Organization
from app.pagination import PageRequest
from app.repositories.base import Repository


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def list_page(self, page: PageRequest) -> tuple[Sequence[ApiKey], bool]:
        return await self.page(self.base_statement(), page)


async def find_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    """Authentication happens before we know the organization, so this one is not scoped."""
    result = await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
    return result.scalar_one_or_none()


async def find_organization_by_name(session: AsyncSession, name: str) -> Organization | None:
    result = await session.execute(select(Organization).where(Organization.name == name))
    return result.scalar_one_or_none()
