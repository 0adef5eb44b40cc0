"""Charge points, kept in sync by the platform: one controller per charging group."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, ChargePointRole
from app.errors import AlreadyExists
from app.models import ChargePoint
from app.pagination import PageRequest
from app.repositories.charge_points import ChargePointRepository
from app.repositories.charging_groups import count_infrastructure, move_connector_count
from app.schemas.charging import ChargePointCreate, ChargePointUpdate
from app.services import audit
from app.services.charging_groups import require_charging_group
from app.services.context import RequestContext
from app.services.entities import apply_changes, found, get_or_404, sent_changes


@dataclass(frozen=True)
class ChargePointView:
    charge_point: ChargePoint
    connector_count: int


async def get_charge_point(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargePointView:
    row = await ChargePointRepository(session, ctx.organization_id).get_with_counts(id_)
    charge_point, connectors = found(row, ChargePoint, id_)
    return ChargePointView(charge_point, connectors)


async def list_charge_points(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    charging_group_id: uuid.UUID | None,
) -> tuple[list[ChargePointView], bool]:
    repository = ChargePointRepository(session, ctx.organization_id)
    rows, more = await repository.page_with_counts(page, charging_group_id)
    return [ChargePointView(charge_point, connectors) for charge_point, connectors in rows], more


async def create_charge_point(
    session: AsyncSession, ctx: RequestContext, data: ChargePointCreate
) -> ChargePointView:
    charge_points = ChargePointRepository(session, ctx.organization_id)
    await require_charging_group(session, ctx, data.charging_group_id)
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
    charge_point = await get_or_404(charge_points, id_, for_update=True)
    changes = sent_changes(data, ChargePoint)
    target_group = changes.get("charging_group_id", charge_point.charging_group_id)
    if "charging_group_id" in changes:
        await require_charging_group(session, ctx, target_group)
    await _check_charge_point(
        charge_points,
        changes.get("identity"),
        changes.get("role", charge_point.role),
        target_group,
        id_,
    )
    source_group = charge_point.charging_group_id
    await apply_changes(session, ctx, charge_point, changes, AuditAction.charge_point_updated)
    if target_group != source_group:
        moved = len(await charge_points.connectors_of(id_))
        await move_connector_count(session, source_group, -moved)
        await move_connector_count(session, target_group, moved)
    return await get_charge_point(session, ctx, id_)


async def delete_charge_point(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    """Removes the charge point together with its connectors (each deletion audited)."""
    charge_points = ChargePointRepository(session, ctx.organization_id)
    charge_point = await get_or_404(charge_points, id_, for_update=True)
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
