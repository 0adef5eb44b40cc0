"""Which user groups let cards charge on a charging group: the charging group's side of activation."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.models import UserGroup
from app.pagination import PageRequest
from app.repositories.active_user_groups import ActiveUserGroupRepository
from app.repositories.charging_groups import ChargingGroupRepository
from app.services.context import RequestContext


async def on_charging_group(
    session: AsyncSession, ctx: RequestContext, charging_group_id: uuid.UUID, page: PageRequest
) -> tuple[Sequence[tuple[UserGroup, int]], bool]:
    if await ChargingGroupRepository(session, ctx.organization_id).get(charging_group_id) is None:
        raise NotFound(f"Charging group {charging_group_id} not found.")
    return await ActiveUserGroupRepository(session, ctx.organization_id).on_charging_group(
        charging_group_id, page
    )
