"""The charging-groups box: on which charging groups a user group is active."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, AuditAction
from app.errors import FieldError, InvalidInput
from app.models import ChargingGroup, UserGroup
from app.pagination import PageRequest
from app.repositories.activation import ActivationRepository, ActivationTotals
from app.repositories.charging_groups import ChargingGroupRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.activation import ActivationInput
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import get_or_404, lock_group


@dataclass(frozen=True)
class ActivationPlan:
    scope: ActivationScope
    charging_groups: Sequence[tuple[ChargingGroup, int]]
    totals: ActivationTotals

    @property
    def ids(self) -> set[uuid.UUID]:
        return {group.id for group, _ in self.charging_groups}

    @property
    def access_control_to_enable(self) -> list[ChargingGroup]:
        return [group for group, _ in self.charging_groups if not group.access_control]


@dataclass(frozen=True)
class ActivationView:
    scope: ActivationScope
    totals: ActivationTotals
    charging_groups: Sequence[tuple[ChargingGroup, int]]
    more: bool


async def get_activation(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, page: PageRequest
) -> ActivationView:
    group = await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)
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
    active_before = await local_lists.active_charging_groups(session, ctx, [group.id])
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
    await enable_access_control(session, ctx, group, plan.access_control_to_enable)
    await local_lists.user_groups_changed(session, ctx, active_before)
    return await _view(session, ctx, group, page)


async def activate_charging_group(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    charging_group_id: uuid.UUID,
    page: PageRequest,
) -> ActivationView:
    group, charging_group = await _lock_pair(session, ctx, user_group_id, charging_group_id)
    active_before = await local_lists.active_charging_groups(session, ctx, [group.id])
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
    if not charging_group.access_control:
        await enable_access_control(session, ctx, group, [charging_group])
    await local_lists.user_groups_changed(session, ctx, active_before)
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
    group, charging_group = await _lock_pair(session, ctx, user_group_id, charging_group_id)
    active_before = await local_lists.active_charging_groups(session, ctx, [group.id])
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
    await local_lists.user_groups_changed(session, ctx, active_before)
    return await _view(session, ctx, group, page)


async def _lock_pair(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, charging_group_id: uuid.UUID
) -> tuple[UserGroup, ChargingGroup]:
    """The user group, locked and allowed to change its activation, and the charging group."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_activation(group).enforce()
    charging_groups = ChargingGroupRepository(session, ctx.organization_id)
    return group, await get_or_404(charging_groups, charging_group_id)


async def _describe(
    session: AsyncSession, ctx: RequestContext, scope: ActivationScope, ids: set[uuid.UUID]
) -> dict[str, object]:
    if scope == ActivationScope.all:
        return {"scope": scope, "charging_groups": "all"}
    groups = await ActivationRepository(session, ctx.organization_id).charging_groups_with_connectors(ids)
    return {"scope": scope, "charging_groups": [{"id": cg.id, "name": cg.name} for cg, _ in groups]}


async def plan_activation(
    session: AsyncSession, ctx: RequestContext, activation: ActivationInput, field: str
) -> ActivationPlan:
    """Resolves the chosen charging groups; unknown ids are a 422 naming each one."""
    repository = ActivationRepository(session, ctx.organization_id)
    if activation.scope == ActivationScope.all:
        groups = await repository.charging_groups_with_connectors(None)
    else:
        groups = await repository.charging_groups_with_connectors(activation.charging_group_ids)
        unknown = set(activation.charging_group_ids) - {group.id for group, _ in groups}
        if unknown:
            raise InvalidInput.at(
                f"Unknown charging groups: {', '.join(sorted(str(i) for i in unknown))}.",
                *(
                    FieldError.body(field, f"charging group {charging_group_id} does not exist", "not_found")
                    for charging_group_id in sorted(unknown, key=str)
                ),
            )
    totals = ActivationTotals(len(groups), sum(count for _, count in groups))
    return ActivationPlan(activation.scope, groups, totals)


async def enable_access_control(
    session: AsyncSession, ctx: RequestContext, group: UserGroup, charging_groups: Sequence[ChargingGroup]
) -> None:
    """Activating a user group on a charging group switches its access control on (audited)."""
    if not charging_groups:
        return
    for charging_group in charging_groups:
        charging_group.access_control = True
    await local_lists.access_control_switched(session, ctx, [cg.id for cg in charging_groups], on=True)
    for charging_group in charging_groups:
        await audit.record(
            session,
            ctx,
            AuditAction.charging_group_updated,
            charging_group,
            user_group_id=group.id,
            old={"name": charging_group.name},
            new={"name": charging_group.name, "because_of_user_group": group.name},
        )
