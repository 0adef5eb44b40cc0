"""A user group's learning mode: for a limited time, unknown UIDs tapped at chosen charging
groups join the group (the write: app/services/unknown_cards.py::after_unknown)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, AuditAction
from app.errors import FieldError, InvalidInput, LearningModeTaken
from app.models import LearningMode, UserGroup
from app.repositories.activation import ActivationRepository
from app.repositories.unknown_cards import LearningModeRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.unknown_cards import LEARNING_MODE_MAX, LearningModeInput
from app.services import audit, policy
from app.services.context import RequestContext
from app.services.entities import get_or_404, lock_group


@dataclass(frozen=True)
class LearningModeView:
    active: bool
    started_at: datetime | None
    ends_at: datetime | None
    charging_groups: Sequence[tuple[uuid.UUID, str]]

    def described(self) -> dict[str, object]:
        return {
            "ends_at": self.ends_at,
            "charging_groups": [{"id": id_, "name": name} for id_, name in self.charging_groups],
        }


async def _view(session: AsyncSession, ctx: RequestContext, group_id: uuid.UUID) -> LearningModeView:
    rows: Sequence[tuple[LearningMode, str]] = await LearningModeRepository(
        session, ctx.organization_id
    ).of_group(group_id)
    if not rows:
        return LearningModeView(False, None, None, [])
    first, _ = rows[0]
    active = first.ends_at > datetime.now(UTC)
    return LearningModeView(
        active, first.started_at, first.ends_at, [(m.charging_group_id, n) for m, n in rows]
    )


async def get_learning_mode(
    session: AsyncSession, ctx: RequestContext, group_id: uuid.UUID
) -> LearningModeView:
    await get_or_404(UserGroupRepository(session, ctx.organization_id), group_id)
    return await _view(session, ctx, group_id)


async def start_learning_mode(
    session: AsyncSession, ctx: RequestContext, group_id: uuid.UUID, data: LearningModeInput
) -> LearningModeView:
    """Starts (or replaces) the group's learning mode. Refused: archived group (409), an end not
    within 24 hours (422), charging groups unknown or where the group is not active (422), or
    where another group learns now (409)."""
    group = await lock_group(session, ctx, group_id)
    policy.can_add_cards(group).enforce()
    now = datetime.now(UTC)
    if not now < data.ends_at <= now + LEARNING_MODE_MAX:
        raise InvalidInput.at(
            "A learning mode ends in the future, at most 24 hours from now.",
            FieldError.body("ends_at", "must be in the future and at most 24 hours from now"),
        )
    await _check_charging_groups(session, ctx, group, data.charging_group_ids)
    learning = LearningModeRepository(session, ctx.organization_id)
    taken = await learning.running_elsewhere(group.id, data.charging_group_ids, now)
    if taken:
        raise LearningModeTaken(
            "Another user group learns on some of these charging groups now; stop it first.",
            charging_group_ids=sorted(str(m.charging_group_id) for m in taken),
            user_group_ids=sorted({str(m.user_group_id) for m in taken}),
        )
    before = await _view(session, ctx, group.id)
    await learning.replace(group.id, data.charging_group_ids, now, data.ends_at)
    await session.flush()
    after = await _view(session, ctx, group.id)
    await audit.record(
        session,
        ctx,
        AuditAction.learning_mode_started,
        group,
        user_group_id=group.id,
        old=before.described() if before.active else None,
        new={"started_at": now, **after.described()},
    )
    return after


async def stop_learning_mode(
    session: AsyncSession, ctx: RequestContext, group_id: uuid.UUID
) -> LearningModeView:
    """Stops it now; stopping a group that does not learn changes nothing."""
    group = await lock_group(session, ctx, group_id)
    before = await _view(session, ctx, group.id)
    if before.ends_at is None:
        return before
    await LearningModeRepository(session, ctx.organization_id).clear(group.id)
    if before.active:
        await audit.record(
            session,
            ctx,
            AuditAction.learning_mode_stopped,
            group,
            user_group_id=group.id,
            old=before.described(),
            new={"stopped_at": datetime.now(UTC)},
        )
    return await _view(session, ctx, group.id)


async def _check_charging_groups(
    session: AsyncSession, ctx: RequestContext, group: UserGroup, ids: Sequence[uuid.UUID]
) -> None:
    activations = ActivationRepository(session, ctx.organization_id)
    existing = {cg.id for cg, _ in await activations.charging_groups_with_connectors(ids)}
    active = (
        existing
        if group.activation_scope == ActivationScope.all
        else await activations.charging_group_ids(group.id)
    )
    errors = [
        FieldError.body("charging_group_ids", f"charging group {id_} does not exist", "not_found")
        if id_ not in existing
        else FieldError.body("charging_group_ids", f"the user group is not active on charging group {id_}")
        for id_ in ids
        if id_ not in existing or id_ not in active
    ]
    if errors:
        raise InvalidInput.at("Learning needs charging groups the user group is active on.", *errors)
