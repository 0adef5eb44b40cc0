import uuid

from fastapi import APIRouter, Response, status

from app.errors import (
    AlreadyExists,
    ChargingGroupNotEmpty,
    NotFound,
)
from app.problems import problem_responses
from app.routers.deps import (
    InfrastructureReader,
    InfrastructureWriter,
    PageParams,
    Uow,
    next_cursor,
)
from app.routers.route import ApiRoute
from app.schemas.charging import ChargingGroupCreate, ChargingGroupRead, ChargingGroupUpdate
from app.schemas.common import Page
from app.services import charging_groups as service

router = APIRouter(route_class=ApiRoute, prefix="/charging-groups", tags=["charging-groups"])


def to_read(view: service.ChargingGroupView) -> ChargingGroupRead:
    return ChargingGroupRead.model_validate(
        {
            **{
                field: getattr(view.group, field)
                for field in (
                    "id",
                    "name",
                    "location_label",
                    "access_control",
                    "created_at",
                    "updated_at",
                )
            },
            "charge_point_count": view.charge_point_count,
            "connector_count": view.connector_count,
        }
    )


@router.get("", response_model=Page[ChargingGroupRead])
async def list_charging_groups(
    ctx: InfrastructureReader, session: Uow, page: PageParams
) -> Page[ChargingGroupRead]:
    """Charging groups, newest first, each with its numbers of charge points and connectors."""
    views, more = await service.list_charging_groups(session, ctx, page)
    return Page(
        items=[to_read(view) for view in views],
        next_cursor=next_cursor(views, more, lambda v: v.group.created_at, lambda v: v.group.id),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChargingGroupRead,
    responses=problem_responses(AlreadyExists),
)
async def create_charging_group(
    body: ChargingGroupCreate, ctx: InfrastructureWriter, session: Uow, response: Response
) -> ChargingGroupRead:
    view = await service.create_charging_group(session, ctx, body)
    response.headers["Location"] = f"/v1/charging-groups/{view.group.id}"
    return to_read(view)


@router.get(
    "/{charging_group_id}",
    response_model=ChargingGroupRead,
    responses=problem_responses(NotFound),
)
async def get_charging_group(
    charging_group_id: uuid.UUID, ctx: InfrastructureReader, session: Uow
) -> ChargingGroupRead:
    view = await service.get_charging_group(session, ctx, charging_group_id)
    return to_read(view)


@router.patch(
    "/{charging_group_id}",
    response_model=ChargingGroupRead,
    responses=problem_responses(NotFound, AlreadyExists),
)
async def update_charging_group(
    charging_group_id: uuid.UUID,
    body: ChargingGroupUpdate,
    ctx: InfrastructureWriter,
    session: Uow,
) -> ChargingGroupRead:
    view = await service.update_charging_group(session, ctx, charging_group_id, body)
    return to_read(view)


@router.delete(
    "/{charging_group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, ChargingGroupNotEmpty),
)
async def delete_charging_group(
    charging_group_id: uuid.UUID, ctx: InfrastructureWriter, session: Uow
) -> Response:
    """Only an empty charging group can be deleted; delete or move its charge points first."""
    await service.delete_charging_group(session, ctx, charging_group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
