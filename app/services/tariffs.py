"""The tariff box: one current version per group; every change is a new version, so a session
keeps the version that was in force when it started."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import TariffNotSet
from app.models import TariffVersion
from app.pagination import PageRequest
from app.repositories.tariffs import TariffRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.tariffs import TariffInput
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


async def set_tariff(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, data: TariffInput
) -> TariffVersion:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_change_tariff(group).enforce()
    tariffs = TariffRepository(session, ctx.organization_id)
    current = await tariffs.current(user_group_id)
    # The version being replaced, as it was; its end (valid_until) shows under "previous_version".
    old = audit.row_values(current) if current else None
    if current is not None:
        current.valid_until = datetime.now(UTC)
        await session.flush()  # the old version stops being current before the new one is written
    version = add_tariff_version(session, ctx, user_group_id, data)
    await audit.record(
        session,
        ctx,
        AuditAction.tariff_set,
        version,
        user_group_id=user_group_id,
        old=old,
        new={"user_group_name": group.name},
        covers={"previous_version": current} if current else None,
    )
    return version


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
