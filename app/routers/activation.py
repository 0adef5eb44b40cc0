import uuid

from fastapi import APIRouter

from app.errors import GroupArchived, NotFound
from app.models import ChargingGroup
from app.pagination import PageRequest
from app.problems import problem_responses
from app.routers.deps import DEFAULT_PAGE_SIZE, Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute, side_effect_free
from app.schemas.activation import (
    ActivatedChargingGroup,
    ActivationChange,
    ActivationImpactRead,
    ActivationInput,
    ActivationRead,
    ChargingGroupImpactRead,
    ChargingGroupRef,
)
from app.services import activation as service
from app.services import activation_impact

router = APIRouter(
    route_class=ApiRoute, prefix="/user-groups/{user_group_id}/charging-groups", tags=["activation"]
)

# A change answers with the activation as GET without parameters shows it: a change is no list
# operation, so it takes no `limit`/`cursor`; the next pages come from GET with `next_cursor`.
FIRST_PAGE = PageRequest(limit=DEFAULT_PAGE_SIZE, after=None)


def activated(charging_group: ChargingGroup, connector_count: int) -> ActivatedChargingGroup:
    return ActivatedChargingGroup(
        id=charging_group.id,
        name=charging_group.name,
        location_label=charging_group.location_label,
        access_control=charging_group.access_control,
        connector_count=connector_count,
    )


def to_read(view: service.ActivationView) -> ActivationRead:
    return ActivationRead(
        scope=view.scope,
        charging_group_count=view.totals.charging_groups,
        connector_count=view.totals.connectors,
        items=[activated(cg, count) for cg, count in view.charging_groups],
        next_cursor=next_cursor(
            list(view.charging_groups), view.more, lambda item: item[0].created_at, lambda item: item[0].id
        ),
    )


@router.post(
    "/preview", response_model=ActivationImpactRead, responses=problem_responses(NotFound, GroupArchived)
)
@side_effect_free
async def preview_activation_change(
    user_group_id: uuid.UUID, body: ActivationChange, ctx: Manager, session: Uow
) -> ActivationImpactRead:
    """What an activation change would do, without doing it: the charging groups that would leave
    free charging, and for every charging group where the group's activation changes, how many
    cards would gain or lose access there. Answers with the errors the change would."""
    impact = await activation_impact.preview_activation_change(session, ctx, user_group_id, body)
    return ActivationImpactRead(
        scope_before=impact.scope_before,
        scope_after=impact.scope_after,
        leaving_free_charging=[
            ChargingGroupRef(id=cg.id, name=cg.name) for cg in impact.leaving_free_charging
        ],
        charging_groups=[
            ChargingGroupImpactRead(
                id=i.charging_group.id,
                name=i.charging_group.name,
                access_control_before=i.access_control_before,
                access_control_after=i.access_control_after,
                cards_gaining_access=i.cards_gaining_access,
                cards_losing_access=i.cards_losing_access,
            )
            for i in impact.charging_groups
        ],
    )


@router.get("", response_model=ActivationRead, responses=problem_responses(NotFound))
async def get_activation(
    user_group_id: uuid.UUID, ctx: Reader, session: Uow, page: PageParams
) -> ActivationRead:
    """The scope, the totals, and the active charging groups (paginated, newest first)."""
    return to_read(await service.get_activation(session, ctx, user_group_id, page))


@router.put("", response_model=ActivationRead, responses=problem_responses(NotFound, GroupArchived))
async def replace_activation(
    user_group_id: uuid.UUID, body: ActivationInput, ctx: Manager, session: Uow
) -> ActivationRead:
    """Replaces the whole activation. Charging groups it activates get access control switched on."""
    return to_read(await service.replace_activation(session, ctx, user_group_id, body, FIRST_PAGE))


@router.put(
    "/{charging_group_id}",
    response_model=ActivationRead,
    responses=problem_responses(NotFound, GroupArchived),
)
async def activate_charging_group(
    user_group_id: uuid.UUID, charging_group_id: uuid.UUID, ctx: Manager, session: Uow
) -> ActivationRead:
    """Activates the group on one charging group (and switches its access control on)."""
    view = await service.activate_charging_group(session, ctx, user_group_id, charging_group_id, FIRST_PAGE)
    return to_read(view)


@router.delete(
    "/{charging_group_id}",
    response_model=ActivationRead,
    responses=problem_responses(NotFound, GroupArchived),
)
async def deactivate_charging_group(
    user_group_id: uuid.UUID, charging_group_id: uuid.UUID, ctx: Manager, session: Uow
) -> ActivationRead:
    """Deactivates one charging group; under scope `all` the scope becomes `custom` with all the others."""
    view = await service.deactivate_charging_group(session, ctx, user_group_id, charging_group_id, FIRST_PAGE)
    return to_read(view)
