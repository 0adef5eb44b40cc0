"""Charging groups, kept in sync by the platform."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import AlreadyExists, ChargingGroupNotEmpty, FieldError, InvalidInput
from app.models import ChargingGroup
from app.pagination import PageRequest
from app.repositories.charging_groups import ChargingGroupRepository, count_infrastructure
from app.schemas.charging import ChargingGroupCreate, ChargingGroupUpdate
from app.services import audit, local_lists
from app.services.context import RequestContext
from app.services.entities import apply_changes, found, get_or_404, sent_changes


@dataclass(frozen=True)
class ChargingGroupView:
    group: ChargingGroup
    charge_point_count: int

    @property
    def connector_count(self) -> int:
        return self.group.connector_count


async def get_charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargingGroupView:
    row = await ChargingGroupRepository(session, ctx.organization_id).get_with_counts(id_)
    group, charge_points = found(row, ChargingGroup, id_)
    return ChargingGroupView(group, charge_points)


async def list_charging_groups(
    session: AsyncSession, ctx: RequestContext, page: PageRequest
) -> tuple[list[ChargingGroupView], bool]:
    rows, more = await ChargingGroupRepository(session, ctx.organization_id).page_with_counts(page)
    return [ChargingGroupView(group, charge_points) for group, charge_points in rows], more


async def create_charging_group(
    session: AsyncSession, ctx: RequestContext, data: ChargingGroupCreate
) -> ChargingGroupView:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    if await groups.value_taken(ChargingGroup.name, data.name):
        raise AlreadyExists(f"A charging group named {data.name!r} already exists.", field="name")
    group = groups.add(
        ChargingGroup(organization_id=ctx.organization_id, connector_count=0, **data.model_dump())
    )
    await audit.record(session, ctx, AuditAction.charging_group_created, group)
    await count_infrastructure(session, ctx.organization_id, charging_groups=1)
    await local_lists.charging_group_created(session, ctx, group.id)
    return ChargingGroupView(group, 0)


async def update_charging_group(
    session: AsyncSession,
    ctx: RequestContext,
    id_: uuid.UUID,
    data: ChargingGroupUpdate,
) -> ChargingGroupView:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    group = await get_or_404(groups, id_, for_update=True)
    changes = sent_changes(data, ChargingGroup)
    access_control_before = group.access_control
    if "name" in changes and await groups.value_taken(ChargingGroup.name, changes["name"], id_):
        raise AlreadyExists(f"A charging group named {changes['name']!r} already exists.", field="name")
    await apply_changes(session, ctx, group, changes, AuditAction.charging_group_updated)
    if group.access_control != access_control_before:
        await local_lists.access_control_switched(session, ctx, [id_], on=group.access_control)
    return await get_charging_group(session, ctx, id_)


async def delete_charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    groups = ChargingGroupRepository(session, ctx.organization_id)
    group = await get_or_404(groups, id_, for_update=True)
    if await groups.has_charge_points(id_):
        raise ChargingGroupNotEmpty(
            "Delete or move its charge points first; a charging group with charge points is in use."
        )
    await groups.delete(group)
    await audit.record(session, ctx, AuditAction.charging_group_deleted, group)
    await count_infrastructure(session, ctx.organization_id, charging_groups=-1)


async def require_charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    """A charging group named in a body must exist (422 on that field, not 404)."""
    if await ChargingGroupRepository(session, ctx.organization_id).get(id_) is None:
        raise InvalidInput.at(
            f"Charging group {id_} does not exist.",
            FieldError.body("charging_group_id", "unknown charging group", "not_found"),
        )
