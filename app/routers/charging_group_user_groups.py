import uuid

from fastapi import APIRouter

from app.errors import NotFound
from app.problems import problem_responses
from app.routers.deps import InfrastructureReader, PageParams, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.active_user_groups import ActiveUserGroup
from app.schemas.common import Page
from app.services import active_user_groups as service

router = APIRouter(route_class=ApiRoute, prefix="/charging-groups", tags=["charging-groups"])


@router.get(
    "/{charging_group_id}/user-groups",
    response_model=Page[ActiveUserGroup],
    responses=problem_responses(NotFound),
)
async def list_charging_group_user_groups(
    charging_group_id: uuid.UUID, ctx: InfrastructureReader, session: Uow, page: PageParams
) -> Page[ActiveUserGroup]:
    """The user groups active on this charging group (scope `all`, or `custom` with this charging
    group), newest first, with their card counts. Archived groups authorize no one and are left out."""
    rows, more = await service.on_charging_group(session, ctx, charging_group_id, page)
    items = [
        ActiveUserGroup(
            id=group.id,
            name=group.name,
            activation_scope=group.activation_scope,
            card_count=card_count,
            created_at=group.created_at,
        )
        for group, card_count in rows
    ]
    return Page(items=items, next_cursor=next_cursor(items, more, lambda g: g.created_at, lambda g: g.id))
