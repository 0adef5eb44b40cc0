"""Connectors, kept in sync by the platform; each counts towards its charging group."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import AlreadyExists, FieldError, InvalidInput
from app.models import Connector
from app.pagination import PageRequest
from app.repositories.charge_points import ChargePointRepository
from app.repositories.charging_groups import count_infrastructure
from app.repositories.connectors import ConnectorRepository
from app.schemas.charging import ConnectorCreate, ConnectorUpdate
from app.services import audit
from app.services.context import RequestContext
from app.services.entities import apply_changes, found, get_or_404, sent_changes


@dataclass(frozen=True)
class ConnectorView:
    connector: Connector
    charging_group_id: uuid.UUID


async def get_connector(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ConnectorView:
    row = await ConnectorRepository(session, ctx.organization_id).get_with_group(id_)
    connector, charging_group_id = found(row, Connector, id_)
    return ConnectorView(connector, charging_group_id)


async def list_connectors(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    charge_point_id: uuid.UUID | None,
    charging_group_id: uuid.UUID | None,
) -> tuple[list[ConnectorView], bool]:
    repository = ConnectorRepository(session, ctx.organization_id)
    rows, more = await repository.page_with_group(page, charge_point_id, charging_group_id)
    return [ConnectorView(connector, group_id) for connector, group_id in rows], more


async def create_connector(
    session: AsyncSession, ctx: RequestContext, data: ConnectorCreate
) -> ConnectorView:
    connectors = ConnectorRepository(session, ctx.organization_id)
    charge_point = await ChargePointRepository(session, ctx.organization_id).get(data.charge_point_id)
    if charge_point is None:
        raise InvalidInput.at(
            f"Charge point {data.charge_point_id} does not exist.",
            FieldError.body("charge_point_id", "unknown charge point", "not_found"),
        )
    if await connectors.value_taken(Connector.evse_id, data.evse_id):
        raise AlreadyExists(f"A connector with EVSE id {data.evse_id!r} already exists.", field="evse_id")
    if await connectors.number_taken(data.charge_point_id, data.connector_number):
        raise AlreadyExists(
            f"Charge point {charge_point.identity} already has connector {data.connector_number}.",
            field="connector_number",
        )
    connector = connectors.add(Connector(organization_id=ctx.organization_id, **data.model_dump()))
    await audit.record(session, ctx, AuditAction.connector_created, connector)
    await count_infrastructure(
        session, ctx.organization_id, connectors=1, charging_group_id=charge_point.charging_group_id
    )
    return ConnectorView(connector, charge_point.charging_group_id)


async def update_connector(
    session: AsyncSession,
    ctx: RequestContext,
    id_: uuid.UUID,
    data: ConnectorUpdate,
) -> ConnectorView:
    connectors = ConnectorRepository(session, ctx.organization_id)
    connector = await get_or_404(connectors, id_, for_update=True)
    changes = sent_changes(data, Connector)
    if "evse_id" in changes and await connectors.value_taken(Connector.evse_id, changes["evse_id"], id_):
        raise AlreadyExists(
            f"A connector with EVSE id {changes['evse_id']!r} already exists.", field="evse_id"
        )
    await apply_changes(session, ctx, connector, changes, AuditAction.connector_updated)
    return await get_connector(session, ctx, id_)


async def delete_connector(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    connectors = ConnectorRepository(session, ctx.organization_id)
    connector = await get_or_404(connectors, id_, for_update=True)
    view = await get_connector(session, ctx, id_)
    await connectors.delete(connector)
    await audit.record(session, ctx, AuditAction.connector_deleted, connector)
    await count_infrastructure(
        session, ctx.organization_id, connectors=-1, charging_group_id=view.charging_group_id
    )
