import uuid

from fastapi import APIRouter, Response, status

from app.errors import (
    AlreadyExists,
    ChargingGroupNotEmpty,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
)
from app.problems import problem_responses
from app.routers.deps import (
    IdempotencyKey,
    IfMatch,
    InfrastructureReader,
    InfrastructureWriter,
    PageParams,
    Uow,
    next_cursor,
    set_etag,
)
from app.schemas.charging import ChargingGroupCreate, ChargingGroupRead, ChargingGroupUpdate
from app.schemas.common import Page
from app.services import charging as service
from app.services.concurrency import etag_of

router = APIRouter(prefix="/charging-groups", tags=["charging-groups"])


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
    responses=problem_responses(AlreadyExists, IdempotencyKeyReused),
)
async def create_charging_group(
    body: ChargingGroupCreate, ctx: InfrastructureWriter, session: Uow, idempotency: IdempotencyKey
) -> Response:
    async def create() -> tuple[ChargingGroupRead, str, str]:
        view = await service.create_charging_group(session, ctx, body)
        return to_read(view), f"/v1/charging-groups/{view.group.id}", etag_of(view.group)

    return await idempotency.create(ctx, create)


@router.get(
    "/{charging_group_id}",
    response_model=ChargingGroupRead,
    responses=problem_responses(NotFound),
)
async def get_charging_group(
    charging_group_id: uuid.UUID, ctx: InfrastructureReader, session: Uow, response: Response
) -> ChargingGroupRead:
    view = await service.get_charging_group(session, ctx, charging_group_id)
    set_etag(response, etag_of(view.group))
    return to_read(view)


@router.patch(
    "/{charging_group_id}",
    response_model=ChargingGroupRead,
    responses=problem_responses(NotFound, AlreadyExists, PreconditionFailed),
)
async def update_charging_group(
    charging_group_id: uuid.UUID,
    body: ChargingGroupUpdate,
    ctx: InfrastructureWriter,
    session: Uow,
    response: Response,
    if_match: IfMatch = None,
) -> ChargingGroupRead:
    view = await service.update_charging_group(session, ctx, charging_group_id, body, if_match)
    set_etag(response, etag_of(view.group))
    return to_read(view)


@router.delete(
    "/{charging_group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, ChargingGroupNotEmpty, PreconditionFailed),
)
async def delete_charging_group(
    charging_group_id: uuid.UUID, ctx: InfrastructureWriter, session: Uow, if_match: IfMatch = None
) -> Response:
    """Only an empty charging group can be deleted; delete or move its charge points first."""
    await service.delete_charging_group(session, ctx, charging_group_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
