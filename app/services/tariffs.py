"""The tariff box: one current version per group; every change is a new version, so a session
keeps the version that was in force when it started."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import Conflict, TariffNotSet, UpcomingTariffNotSet
from app.models import TariffVersion
from app.pagination import PageRequest
from app.repositories.tariffs import TariffRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.tariffs import ScheduledTariffInput, TariffInput
from app.services import audit, policy
from app.services.context import RequestContext
from app.services.entities import get_or_404, lock_group


async def get_tariff(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> TariffVersion:
    await _require_group(session, ctx, user_group_id)
    tariff = await TariffRepository(session, ctx.organization_id).current(user_group_id)
    if tariff is None:
        raise TariffNotSet("This user group has no tariff; its sessions are documented without cost.")
    return tariff


async def list_tariff_versions(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, page: PageRequest
) -> tuple[Sequence[TariffVersion], bool]:
    await _require_group(session, ctx, user_group_id)
    return await TariffRepository(session, ctx.organization_id).versions(user_group_id, page)


async def get_upcoming_tariff(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID
) -> TariffVersion:
    await _require_group(session, ctx, user_group_id)
    upcoming = await TariffRepository(session, ctx.organization_id).upcoming(user_group_id)
    if upcoming is None:
        raise UpcomingTariffNotSet("This user group has no tariff scheduled to start later.")
    return upcoming


async def set_tariff(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, data: ScheduledTariffInput
) -> TariffVersion:
    """Without `valid_from` the version applies from now on (until an upcoming one starts); with a
    future `valid_from` it is scheduled: the current version ends then, and an upcoming version
    scheduled before is replaced (it never applied to a session)."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_tariff(group).enforce()
    tariffs = TariffRepository(session, ctx.organization_id)
    now = datetime.now(UTC)
    starts = data.valid_from or now
    current = await tariffs.current(user_group_id)
    upcoming = await tariffs.upcoming(user_group_id)
    # The version being replaced, as it was; its end (valid_until) shows under "previous_version".
    old: dict[str, Any] = audit.row_values(current) if current else {}
    covers: dict[str, Any] = {"previous_version": current} if current else {}
    ends: datetime | None = None
    if data.valid_from is None:
        ends = upcoming.valid_from if upcoming else None  # the announced change still comes
    elif upcoming is not None:
        await _refuse_if_used(tariffs, upcoming)
        await tariffs.delete(upcoming)
        covers["replaced_upcoming_version"] = upcoming
    if current is not None:
        current.valid_until = starts
    await session.flush()  # the old version stops being open-ended before the new one is written
    plain = TariffInput.model_validate(data.model_dump(exclude={"valid_from"}))
    version = add_tariff_version(session, ctx, user_group_id, plain)
    version.valid_from, version.valid_until = starts, ends
    await audit.record(
        session,
        ctx,
        AuditAction.tariff_set if data.valid_from is None else AuditAction.tariff_scheduled,
        version,
        user_group_id=user_group_id,
        old=old or None,
        new={"user_group_name": group.name},
        covers=covers or None,
    )
    return version


async def cancel_upcoming_tariff(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID
) -> None:
    """The version before it stays in force, open-ended again (if it was the one handing over)."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_tariff(group).enforce()
    tariffs = TariffRepository(session, ctx.organization_id)
    upcoming = await tariffs.upcoming(user_group_id)
    if upcoming is None:
        raise UpcomingTariffNotSet("This user group has no tariff scheduled to start later.")
    await _refuse_if_used(tariffs, upcoming)
    before = await tariffs.ending_at(user_group_id, upcoming.valid_from)
    await tariffs.delete(upcoming)
    await session.flush()  # the cancelled version leaves before the one before it is open-ended again
    if before is not None:
        before.valid_until = None
    await audit.record(
        session,
        ctx,
        AuditAction.tariff_cancelled,
        upcoming,
        user_group_id=user_group_id,
        old={"user_group_name": group.name},
        covers={"previous_version": before} if before else None,
    )


async def _refuse_if_used(tariffs: TariffRepository, version: TariffVersion) -> None:
    # A session reported with a start in the future could already use it: it stays documented.
    if await tariffs.in_use(version.id):
        raise Conflict("A session already started under the upcoming tariff; it can no longer be replaced.")


async def remove_tariff(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> None:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_tariff(group).enforce()
    current = await TariffRepository(session, ctx.organization_id).current(user_group_id)
    if current is None:
        raise TariffNotSet("This user group has no tariff to remove.")
    old = {**audit.row_values(current), "user_group_name": group.name}
    current.valid_until = datetime.now(UTC)
    await audit.record(
        session, ctx, AuditAction.tariff_removed, current, user_group_id=user_group_id, old=old
    )


async def _require_group(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> None:
    await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)


def add_tariff_version(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, tariff: TariffInput
) -> TariffVersion:
    version = TariffVersion(
        organization_id=ctx.organization_id,
        user_group_id=user_group_id,
        valid_from=datetime.now(UTC),
        **tariff.model_dump(),
    )
    if version.parking_fee_per_hour is not None and version.parking_grace_minutes is None:
        version.parking_grace_minutes = 0
    session.add(version)
    return version
