"""Impact before it happens: what an activation change would do to who charges where, without
changing anything (the previews of PUT/DELETE .../charging-groups[/{id}])."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope
from app.errors import FieldError, InvalidInput
from app.models import ChargingGroup
from app.repositories.activation import ActivationRepository
from app.repositories.activation_impact import ActivationImpactRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.activation import ActivationChange
from app.services import policy
from app.services.activation import plan_activation
from app.services.context import RequestContext
from app.services.entities import get_or_404


@dataclass(frozen=True)
class ChargingGroupImpact:
    charging_group: ChargingGroup
    access_control_before: bool
    access_control_after: bool
    cards_gaining_access: int
    cards_losing_access: int


@dataclass(frozen=True)
class ActivationImpact:
    scope_before: ActivationScope
    scope_after: ActivationScope
    charging_groups: Sequence[ChargingGroupImpact]

    @property
    def leaving_free_charging(self) -> list[ChargingGroup]:
        return [
            i.charging_group for i in self.charging_groups if i.access_control_after > i.access_control_before
        ]


async def preview_activation_change(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, change: ActivationChange
) -> ActivationImpact:
    """The charging groups where the user group's presence would change, each with its access
    control before and after and how many of the organization's cards would gain or lose access
    there. Refused as the change itself would be (404, archived 409, unknown charging group 422)."""
    group = await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)
    policy.can_change_activation(group).enforce()
    activations = ActivationRepository(session, ctx.organization_id)
    everything = {cg.id: cg for cg, _ in await activations.charging_groups_with_connectors(None)}
    all_ids = set(everything)
    before = (
        all_ids
        if group.activation_scope == ActivationScope.all
        else await activations.charging_group_ids(group.id)
    )
    scope, after = group.activation_scope, set(before)
    if change.replace is not None:
        plan = await plan_activation(session, ctx, change.replace, "replace.charging_group_ids")
        scope, after = plan.scope, (all_ids if plan.scope == ActivationScope.all else plan.ids)
    else:
        field, target = (
            ("activate", change.activate)
            if change.activate is not None
            else ("deactivate", change.deactivate)
        )
        if target not in everything:
            raise InvalidInput.at(
                f"Unknown charging group: {target}.",
                FieldError.body(field, f"charging group {target} does not exist", "not_found"),
            )
        if field == "activate":
            after.add(target)
        else:
            after.discard(target)
            if scope == ActivationScope.all:
                scope = ActivationScope.custom
    impacts = await _impacts(session, ctx, group.id, [everything[i] for i in before ^ after], after)
    return ActivationImpact(group.activation_scope, scope, impacts)


async def _impacts(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    changed: Sequence[ChargingGroup],
    after: set[uuid.UUID],
) -> list[ChargingGroupImpact]:
    counts = ActivationImpactRepository(session, ctx.organization_id)
    own = await counts.card_count(user_group_id) if changed else 0
    total: int | None = None
    impacts = []
    for cg in sorted(changed, key=lambda c: (c.name, c.id)):
        gain = lose = 0
        joins = cg.id in after
        if joins and not cg.access_control:
            # Free charging ends: only the cards of the groups active there (this one's included) charge.
            total = await counts.card_count() if total is None else total
            lose = total - own - await counts.cards_of_others_active_at(user_group_id, cg.id)
        elif joins:
            gain = own
        elif cg.access_control:
            lose = own
        impacts.append(ChargingGroupImpact(cg, cg.access_control, cg.access_control or joins, gain, lose))
    return impacts
