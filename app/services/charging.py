"""Charging infrastructure kept in sync by the platform: charging groups, charge points, connectors."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, ChargePointRole
from app.errors import AlreadyExists, ChargingGroupNotEmpty, InvalidInput, NotFound
from app.models import ChargePoint, ChargingGroup, Connector
from app.pagination import PageRequest
from app.repositories.charging import (
    ChargePointRepository,
    ChargingGroupRepository,
    ConnectorRepository,
    count_infrastructure,
    move_connector_count,
)
from app.schemas.charging import (
    ChargePointCreate,
    ChargePointUpdate,
    ChargingGroupCreate,
    ChargingGroupUpdate,
    ConnectorCreate,
    ConnectorUpdate,
)
from app.services import audit, local_lists
from app.services.context import RequestContext


@dataclass(frozen=True)
class ChargingGroupView:
    group: ChargingGroup
    charge_point_count: int
    connector_count: int


@dataclass(frozen=True)
class ChargePointView:
    charge_point: ChargePoint
    connector_count: int


@dataclass(frozen=True)
class ConnectorView:
    connector: Connector
    charging_group_id: uuid.UUID


# Charging groups ---------------------------------------------------------------------------


async def get_charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargingGroupView:
    row = await ChargingGroupRepository(session, ctx.organization_id).get_with_counts(id_)
    if row is None:
        raise NotFound(f"Charging group {id_} not found.")
    return ChargingGroupView(*row)


async def list_charging_groups(
    session: AsyncSession, ctx: RequestContext, page: PageRequest
) -> tuple[list[ChargingGroupView], bool]:
    rows, more = await ChargingGroupRepository(session, ctx.organization_id).page_with_counts(page)
    return [ChargingGroupView(*row) for row in rows], more


async def create_charging_group(
    session: AsyncSession, ctx: RequestContext, data: ChargingGroupCreate
) -> ChargingGroupView:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    if await groups.value_taken(ChargingGroup.name, data.name):
        raise AlreadyExists(f"A charging group named {data.name!r} already exists.", field="name")
    group = groups.add(ChargingGroup(organization_id=ctx.organization_id, **data.model_dump()))
    await audit.record(session, ctx, AuditAction.charging_group_created, group)
    await count_infrastructure(session, ctx.organization_id, charging_groups=1)
    await local_lists.charging_groups_changed(session, ctx, [group.id])
    return ChargingGroupView(group, 0, 0)


async def update_charging_group(
    session: AsyncSession,
    ctx: RequestContext,
    id_: uuid.UUID,
    data: ChargingGroupUpdate,
) -> ChargingGroupView:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    group = await _locked_group(groups, id_)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("access_control") is None:
        changes.pop("access_control", None)
    if "name" in changes and await groups.value_taken(ChargingGroup.name, changes["name"], id_):
        raise AlreadyExists(f"A charging group named {changes['name']!r} already exists.", field="name")
    await _apply(session, ctx, group, changes, AuditAction.charging_group_updated)
    if "access_control" in changes:
        await local_lists.charging_groups_changed(session, ctx, [id_])
    return await get_charging_group(session, ctx, id_)


async def delete_charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    group = await _locked_group(groups, id_)
    if await groups.has_charge_points(id_):
        raise ChargingGroupNotEmpty(
            "Delete or move its charge points first; a charging group with charge points is in use."
        )
    await groups.delete(group)
    await audit.record(session, ctx, AuditAction.charging_group_deleted, group)
    await count_infrastructure(session, ctx.organization_id, charging_groups=-1)


async def _locked_group(groups: ChargingGroupRepository, id_: uuid.UUID) -> ChargingGroup:
    group = await groups.get(id_, for_update=True)
    if group is None:
        raise NotFound(f"Charging group {id_} not found.")
    return group


# Charge points -----------------------------------------------------------------------------


async def get_charge_point(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargePointView:
    row = await ChargePointRepository(session, ctx.organization_id).get_with_counts(id_)
    if row is None:
        raise NotFound(f"Charge point {id_} not found.")
    return ChargePointView(*row)


async def list_charge_points(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    charging_group_id: uuid.UUID | None,
) -> tuple[list[ChargePointView], bool]:
    repository = ChargePointRepository(session, ctx.organization_id)
    rows, more = await repository.page_with_counts(page, charging_group_id)
    return [ChargePointView(*row) for row in rows], more


async def create_charge_point(
    session: AsyncSession, ctx: RequestContext, data: ChargePointCreate
) -> ChargePointView:
    charge_points = ChargePointRepository(session, ctx.organization_id)
    await _require_group(session, ctx, data.charging_group_id)
    await _check_charge_point(charge_points, data.identity, data.role, data.charging_group_id, None)
    charge_point = charge_points.add(ChargePoint(organization_id=ctx.organization_id, **data.model_dump()))
    await audit.record(session, ctx, AuditAction.charge_point_created, charge_point)
    return ChargePointView(charge_point, 0)


async def update_charge_point(
    session: AsyncSession,
    ctx: RequestContext,
    id_: uuid.UUID,
    data: ChargePointUpdate,
) -> ChargePointView:
    charge_points = ChargePointRepository(session, ctx.organization_id)
    charge_point = await _locked_charge_point(charge_points, id_)
    changes = {key: value for key, value in data.model_dump(exclude_unset=True).items() if value is not None}
    target_group = changes.get("charging_group_id", charge_point.charging_group_id)
    if "charging_group_id" in changes:
        await _require_group(session, ctx, target_group)
    await _check_charge_point(
        charge_points,
        changes.get("identity"),
        changes.get("role", charge_point.role),
        target_group,
        id_,
    )
    source_group = charge_point.charging_group_id
    await _apply(session, ctx, charge_point, changes, AuditAction.charge_point_updated)
    if target_group != source_group:
        moved = len(await charge_points.connectors_of(id_))
        await move_connector_count(session, source_group, -moved)
        await move_connector_count(session, target_group, moved)
    return await get_charge_point(session, ctx, id_)


async def delete_charge_point(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    """Removes the charge point together with its connectors (each deletion audited)."""
    charge_points = ChargePointRepository(session, ctx.organization_id)
    charge_point = await _locked_charge_point(charge_points, id_)
    connectors = await charge_points.connectors_of(id_)
    await count_infrastructure(
        session,
        ctx.organization_id,
        connectors=-len(connectors),
        charging_group_id=charge_point.charging_group_id,
    )
    for connector in connectors:
        await session.delete(connector)
    for connector in connectors:
        await audit.record(session, ctx, AuditAction.connector_deleted, connector)
    await charge_points.delete(charge_point)
    await audit.record(session, ctx, AuditAction.charge_point_deleted, charge_point)


async def _check_charge_point(
    charge_points: ChargePointRepository,
    identity: str | None,
    role: ChargePointRole,
    charging_group_id: uuid.UUID,
    exclude_id: uuid.UUID | None,
) -> None:
    if identity is not None and await charge_points.value_taken(ChargePoint.identity, identity, exclude_id):
        raise AlreadyExists(f"A charge point with identity {identity!r} already exists.", field="identity")
    if role == ChargePointRole.controller:
        controller = await charge_points.controller_of(charging_group_id)
        if controller is not None and controller.id != exclude_id:
            raise AlreadyExists(
                f"The charging group already has a controller ({controller.identity}); "
                "add this charge point as an extender.",
                field="role",
            )


async def _locked_charge_point(charge_points: ChargePointRepository, id_: uuid.UUID) -> ChargePoint:
    charge_point = await charge_points.get(id_, for_update=True)
    if charge_point is None:
        raise NotFound(f"Charge point {id_} not found.")
    return charge_point


async def _require_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    if await ChargingGroupRepository(session, ctx.organization_id).get(id_) is None:
        raise InvalidInput(
            f"Charging group {id_} does not exist.",
            errors=[
                {
                    "field": "charging_group_id",
                    "loc": ["body", "charging_group_id"],
                    "msg": "unknown charging group",
                    "type": "not_found",
                }
            ],
        )


# Connectors --------------------------------------------------------------------------------


async def get_connector(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ConnectorView:
    row = await ConnectorRepository(session, ctx.organization_id).get_with_group(id_)
    if row is None:
        raise NotFound(f"Connector {id_} not found.")
    return ConnectorView(*row)


async def list_connectors(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    charge_point_id: uuid.UUID | None,
    charging_group_id: uuid.UUID | None,
) -> tuple[list[ConnectorView], bool]:
    repository = ConnectorRepository(session, ctx.organization_id)
    rows, more = await repository.page_with_group(page, charge_point_id, charging_group_id)
    return [ConnectorView(*row) for row in rows], more


async def create_connector(
    session: AsyncSession, ctx: RequestContext, data: ConnectorCreate
) -> ConnectorView:
    connectors = ConnectorRepository(session, ctx.organization_id)
    charge_point = await ChargePointRepository(session, ctx.organization_id).get(data.charge_point_id)
    if charge_point is None:
        raise InvalidInput(
            f"Charge point {data.charge_point_id} does not exist.",
            errors=[
                {
                    "field": "charge_point_id",
                    "loc": ["body", "charge_point_id"],
                    "msg": "unknown charge point",
                    "type": "not_found",
                }
            ],
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
    connector = await connectors.get(id_, for_update=True)
    if connector is None:
        raise NotFound(f"Connector {id_} not found.")
    changes = {key: value for key, value in data.model_dump(exclude_unset=True).items() if value is not None}
    if "evse_id" in changes and await connectors.value_taken(Connector.evse_id, changes["evse_id"], id_):
        raise AlreadyExists(
            f"A connector with EVSE id {changes['evse_id']!r} already exists.", field="evse_id"
        )
    await _apply(session, ctx, connector, changes, AuditAction.connector_updated)
    return await get_connector(session, ctx, id_)


async def delete_connector(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    connectors = ConnectorRepository(session, ctx.organization_id)
    connector = await connectors.get(id_, for_update=True)
    if connector is None:
        raise NotFound(f"Connector {id_} not found.")
    view = await get_connector(session, ctx, id_)
    await connectors.delete(connector)
    await audit.record(session, ctx, AuditAction.connector_deleted, connector)
    await count_infrastructure(
        session, ctx.organization_id, connectors=-1, charging_group_id=view.charging_group_id
    )


# Shared ------------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession,
    ctx: RequestContext,
    entity: ChargingGroup | ChargePoint | Connector,
    changes: dict[str, object],
    action: AuditAction,
) -> None:
    """Sets the changed columns and audits old -> new; a no-op change writes nothing."""
    for key, value in changes.items():
        setattr(entity, key, value)
    await audit.record(session, ctx, action, entity, only_if_changed=True)
