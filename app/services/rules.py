"""The guest rules box: one rule set in force per group; every change is a new version (like the
tariff), audited, refused while the group is archived."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import RulesNotSet
from app.models import UserGroupRules
from app.pagination import PageRequest
from app.repositories.rules import RulesRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.rules import RulesInput
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import get_or_404, lock_group

NOT_SET = "This user group has no guest rules; its cards are decided by the seed's rules only."


async def get_rules(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> UserGroupRules:
    await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)
    rules = await RulesRepository(session, ctx.organization_id).current(user_group_id)
    if rules is None:
        raise RulesNotSet(NOT_SET)
    return rules


async def list_rule_versions(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, page: PageRequest
) -> tuple[Sequence[UserGroupRules], bool]:
    await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)
    return await RulesRepository(session, ctx.organization_id).versions(user_group_id, page)


async def set_rules(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, data: RulesInput
) -> UserGroupRules:
    """Replaces the whole rule set from now on; the version before it ends now."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_rules(group).enforce()
    now = datetime.now(UTC)
    current = await RulesRepository(session, ctx.organization_id).current(user_group_id)
    old: dict[str, Any] = audit.row_values(current) if current else {}
    if current is not None:
        current.valid_until = now
    await session.flush()  # the old version stops being current before the new one is written
    version = UserGroupRules(
        organization_id=ctx.organization_id, user_group_id=user_group_id, valid_from=now, **data.columns()
    )
    session.add(version)
    await audit.record(
        session,
        ctx,
        AuditAction.rules_set,
        version,
        user_group_id=user_group_id,
        old=old or None,
        new={"user_group_name": group.name},
        covers={"previous_version": current} if current else None,
    )
    # The group's validity window changes the status of its cards on the OCPP local lists.
    await local_lists.user_group_cards_changed(session, ctx, user_group_id)
    return version


async def remove_rules(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> None:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_rules(group).enforce()
    current = await RulesRepository(session, ctx.organization_id).current(user_group_id)
    if current is None:
        raise RulesNotSet("This user group has no guest rules to remove.")
    old = {**audit.row_values(current), "user_group_name": group.name}
    current.valid_until = datetime.now(UTC)
    await audit.record(session, ctx, AuditAction.rules_removed, current, user_group_id=user_group_id, old=old)
    await local_lists.user_group_cards_changed(session, ctx, user_group_id)
