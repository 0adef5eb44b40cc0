"""The charging-groups box: on which charging groups a user group is active."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, AuditAction
from app.errors import NotFound
from app.models import ChargingGroup, UserGroup
from app.pagination import PageRequest
from app.repositories.charging import ChargingGroupRepository
from app.repositories.user_groups import ActivationRepository, ActivationTotals, UserGroupRepository
from app.schemas.user_groups import ActivationInput
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.user_groups import enable_access_control, lock_group, plan_activation


@dataclass(frozen=True)
class ActivationView:
    scope: ActivationScope
    totals: ActivationTotals
    charging_groups: Sequence[tuple[ChargingGroup, int]]
    more: bool


async def get_activation(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, page: PageRequest
) -> ActivationView:
    group = await UserGroupRepository(session, ctx.organization_id).get(user_group_id)
    if group is None:
        raise NotFound(f"User group {user_group_id} not found.")
    return await _view(session, ctx, group, page)


async def _view(
    session: AsyncSession, ctx: RequestContext, group: UserGroup, page: PageRequest
) -> ActivationView:
    activations = ActivationRepository(session, ctx.organization_id)
    if group.activation_scope == ActivationScope.all:
        totals = await activations.organization_totals()
    else:
        totals = (await activations.custom_totals([group.id])).get(group.id, ActivationTotals(0, 0))
    items, more = await activations.page_active(group.id, group.activation_scope, page)
    return ActivationView(group.activation_scope, totals, items, more)


async def replace_activation(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    data: ActivationInput,
    page: PageRequest,
) -> ActivationView:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_activation(group).enforce()
    plan = await plan_activation(session, ctx, data, "charging_group_ids")
    activations = ActivationRepository(session, ctx.organization_id)
    old_ids = await activations.charging_group_ids(group.id)
    old = await _describe(session, ctx, group.activation_scope, old_ids)
    await activations.remove(group.id, None)
    if plan.scope == ActivationScope.custom:
        activations.add(group.id, plan.ids)
    group.activation_scope = plan.scope
    await audit.record(
        session,
        ctx,
        AuditAction.activation_replaced,
        group,
        user_group_id=group.id,
        old=old,
        new={
            "scope": plan.scope,
            "charging_groups": [{"id": cg.id, "name": cg.name} for cg, _ in plan.charging_groups]
            if plan.scope == ActivationScope.custom
            else "all",
        },
    )
    switched_on = plan.access_control_to_enable  # read before enabling empties it
    await enable_access_control(session, ctx, group, switched_on)
    await local_lists.user_groups_changed(session, ctx, [group.id], [cg.id for cg in switched_on])
    return await _view(session, ctx, group, page)


async def activate_charging_group(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    charging_group_id: uuid.UUID,
    page: PageRequest,
) -> ActivationView:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_activation(group).enforce()
    charging_group = await _charging_group(session, ctx, charging_group_id)
    activations = ActivationRepository(session, ctx.organization_id)
    already = group.activation_scope == ActivationScope.all or charging_group_id in (
        await activations.charging_group_ids(group.id)
    )
    if not already:
        activations.add(group.id, [charging_group_id])
        await audit.record(
            session,
            ctx,
            AuditAction.activation_added,
            group,
            user_group_id=group.id,
            new={"charging_group_id": charging_group.id, "charging_group_name": charging_group.name},
        )
    switched_on = [] if charging_group.access_control else [charging_group.id]
    if switched_on:
        await enable_access_control(session, ctx, group, [charging_group])
    await local_lists.user_groups_changed(session, ctx, [group.id], switched_on)
    return await _view(session, ctx, group, page)


async def deactivate_charging_group(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    charging_group_id: uuid.UUID,
    page: PageRequest,
) -> ActivationView:
    """Under scope `all`, deactivating one charging group turns the scope into `custom` with all
    the others. Deactivating a charging group the group is not active on changes nothing."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_activation(group).enforce()
    charging_group = await _charging_group(session, ctx, charging_group_id)
    activations = ActivationRepository(session, ctx.organization_id)
    detail = {"charging_group_id": charging_group.id, "charging_group_name": charging_group.name}
    if group.activation_scope == ActivationScope.all:
        others = await activations.all_charging_group_ids() - {charging_group_id}
        activations.add(group.id, others)
        group.activation_scope = ActivationScope.custom
        await audit.record(
            session,
            ctx,
            AuditAction.activation_removed,
            group,
            user_group_id=group.id,
            old={**detail, "scope": ActivationScope.all},
            new={"scope": ActivationScope.custom, "charging_group_count": len(others)},
        )
    elif charging_group_id in await activations.charging_group_ids(group.id):
        await activations.remove(group.id, [charging_group_id])
        await audit.record(
            session, ctx, AuditAction.activation_removed, group, user_group_id=group.id, old=detail
        )
    await local_lists.user_groups_changed(session, ctx, [group.id])
    return await _view(session, ctx, group, page)


async def _charging_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargingGroup:
    charging_group = await ChargingGroupRepository(session, ctx.organization_id).get(id_)
    if charging_group is None:
        raise NotFound(f"Charging group {id_} not found.")
    return charging_group


async def _describe(
    session: AsyncSession, ctx: RequestContext, scope: ActivationScope, ids: set[uuid.UUID]
) -> dict[str, object]:
    if scope == ActivationScope.all:
        return {"scope": scope, "charging_groups": "all"}
    groups = await ActivationRepository(session, ctx.organization_id).charging_groups_with_connectors(ids)
    return {"scope": scope, "charging_groups": [{"id": cg.id, "name": cg.name} for cg, _ in groups]}
