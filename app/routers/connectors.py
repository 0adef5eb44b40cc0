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
from app.schemas.charging import ConnectorCreate, ConnectorRead, ConnectorUpdate
from app.schemas.common import Page
from app.services import connectors as service

router = APIRouter(route_class=ApiRoute, prefix="/connectors", tags=["connectors"])


def to_read(view: service.ConnectorView) -> ConnectorRead:
    connector = view.connector
    return ConnectorRead(
        id=connector.id,
        charge_point_id=connector.charge_point_id,
        charging_group_id=view.charging_group_id,
        connector_number=connector.connector_number,
        evse_id=connector.evse_id,
        plug_type=connector.plug_type,
        max_power_kw=connector.max_power_kw,
        created_at=connector.created_at,
        updated_at=connector.updated_at,
    )


@router.get("", response_model=Page[ConnectorRead])
async def list_connectors(
    ctx: InfrastructureReader,
    session: Uow,
    page: PageParams,
    charge_point_id: Annotated[uuid.UUID | None, Query()] = None,
    charging_group_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[ConnectorRead]:
    views, more = await service.list_connectors(session, ctx, page, charge_point_id, charging_group_id)
    return Page(
        items=[to_read(view) for view in views],
        next_cursor=next_cursor(views, more, lambda v: v.connector.created_at, lambda v: v.connector.id),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectorRead,
    responses=problem_responses(AlreadyExists),
)
async def create_connector(
    body: ConnectorCreate, ctx: InfrastructureWriter, session: Uow, response: Response
) -> ConnectorRead:
    view = await service.create_connector(session, ctx, body)
    response.headers["Location"] = f"/v1/connectors/{view.connector.id}"
    return to_read(view)


@router.get("/{connector_id}", response_model=ConnectorRead, responses=problem_responses(NotFound))
async def get_connector(connector_id: uuid.UUID, ctx: InfrastructureReader, session: Uow) -> ConnectorRead:
    view = await service.get_connector(session, ctx, connector_id)
    return to_read(view)


@router.patch(
    "/{connector_id}",
    response_model=ConnectorRead,
    responses=problem_responses(NotFound, AlreadyExists),
)
async def update_connector(
    connector_id: uuid.UUID,
    body: ConnectorUpdate,
    ctx: InfrastructureWriter,
    session: Uow,
) -> ConnectorRead:
    view = await service.update_connector(session, ctx, connector_id, body)
    return to_read(view)


@router.delete(
    "/{connector_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound),
)
async def delete_connector(connector_id: uuid.UUID, ctx: InfrastructureWriter, session: Uow) -> Response:
    await service.delete_connector(session, ctx, connector_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
