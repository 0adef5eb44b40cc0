import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.errors import AlreadyExists, NotFound
from app.problems import problem_responses
from app.routers.deps import (
    InfrastructureReader,
    InfrastructureWriter,
    PageParams,
    Uow,
    next_cursor,
)
from app.routers.route import ApiRoute
from app.schemas.charging import ChargePointCreate, ChargePointRead, ChargePointUpdate
from app.schemas.common import Page
from app.services import charge_points as service

router = APIRouter(route_class=ApiRoute, prefix="/charge-points", tags=["charge-points"])


def to_read(view: service.ChargePointView) -> ChargePointRead:
    charge_point = view.charge_point
    return ChargePointRead(
        id=charge_point.id,
        charging_group_id=charge_point.charging_group_id,
        identity=charge_point.identity,
        role=charge_point.role,
        connector_count=view.connector_count,
        created_at=charge_point.created_at,
        updated_at=charge_point.updated_at,
    )


@router.get("", response_model=Page[ChargePointRead])
async def list_charge_points(
    ctx: InfrastructureReader,
    session: Uow,
    page: PageParams,
    charging_group_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[ChargePointRead]:
    views, more = await service.list_charge_points(session, ctx, page, charging_group_id)
    return Page(
        items=[to_read(view) for view in views],
        next_cursor=next_cursor(
            views, more, lambda v: v.charge_point.created_at, lambda v: v.charge_point.id
        ),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChargePointRead,
    responses=problem_responses(AlreadyExists),
)
async def create_charge_point(
    body: ChargePointCreate, ctx: InfrastructureWriter, session: Uow, response: Response
) -> ChargePointRead:
    view = await service.create_charge_point(session, ctx, body)
    response.headers["Location"] = f"/v1/charge-points/{view.charge_point.id}"
    return to_read(view)


@router.get("/{charge_point_id}", response_model=ChargePointRead, responses=problem_responses(NotFound))
async def get_charge_point(
    charge_point_id: uuid.UUID, ctx: InfrastructureReader, session: Uow
) -> ChargePointRead:
    view = await service.get_charge_point(session, ctx, charge_point_id)
    return to_read(view)


@router.patch(
    "/{charge_point_id}",
    response_model=ChargePointRead,
    responses=problem_responses(NotFound, AlreadyExists),
)
async def update_charge_point(
    charge_point_id: uuid.UUID,
    body: ChargePointUpdate,
    ctx: InfrastructureWriter,
    session: Uow,
) -> ChargePointRead:
    view = await service.update_charge_point(session, ctx, charge_point_id, body)
    return to_read(view)


@router.delete(
    "/{charge_point_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound),
)
async def delete_charge_point(
    charge_point_id: uuid.UUID, ctx: InfrastructureWriter, session: Uow
) -> Response:
    """Deletes the charge point and its connectors."""
    await service.delete_charge_point(session, ctx, charge_point_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
