"""User groups: the wizard (preview + create), the group page, rename, delete, archive, restore,
history. Each write: lock the group -> gather facts -> policy -> change -> audit."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.reads import Reads
from app.enums import ActivationScope, AuditAction, UserGroupStatus, UserGroupType
from app.errors import AlreadyExists
from app.models import Card, TariffVersion, UserGroup
from app.pagination import PageRequest
from app.repositories.activation import ActivationRepository, ActivationTotals
from app.repositories.audit_events import AuditFilters, AuditPageRepository, AuditRow
from app.repositories.cards import CardRepository
from app.repositories.sessions import SessionRepository
from app.repositories.tariffs import TariffRepository
from app.repositories.user_group_pages import GroupRow as GroupRow
from app.repositories.user_group_pages import TariffRow, UserGroupPageRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.tariffs import TariffInput
from app.schemas.user_groups import UserGroupCreate
from app.services import audit, local_lists, policy
from app.services.activation import ActivationPlan, enable_access_control, plan_activation
from app.services.context import RequestContext
from app.services.entities import found, lock_group
from app.services.tariffs import add_tariff_version


def name_key(name: str) -> str:
    return name.casefold()


@dataclass(frozen=True)
class UserGroupPlan:
    name: str
    type: UserGroupType
    tariff: TariffInput | None
    activation: ActivationPlan


@dataclass(frozen=True)
class UserGroupDetail:
    group: UserGroup
    tariff: TariffVersion | None
    upcoming_tariff: TariffVersion | None
    activation: ActivationTotals
    card_count: int
    session_count: int
    allowed_actions: dict[str, policy.Verdict]


@dataclass(frozen=True)
class UserGroupListItem:
    group: UserGroup
    tariff: TariffVersion | None
    activation: ActivationTotals
    card_count: int
    session_count: int


# Planning (step 4, the summary) and creation --------------------------------------------------


async def plan_user_group(session: AsyncSession, ctx: RequestContext, data: UserGroupCreate) -> UserGroupPlan:
    await _assert_name_free(UserGroupRepository(session, ctx.organization_id), data.name, None)
    activation = await plan_activation(session, ctx, data.activation, "activation.charging_group_ids")
    return UserGroupPlan(data.name, data.type, data.tariff, activation)


async def create_user_group(
    session: AsyncSession, ctx: RequestContext, data: UserGroupCreate
) -> UserGroupDetail:
    plan = await plan_user_group(session, ctx, data)
    group = UserGroupRepository(session, ctx.organization_id).add(
        UserGroup(
            organization_id=ctx.organization_id,
            name=plan.name,
            name_key=name_key(plan.name),
            type=plan.type,
            activation_scope=plan.activation.scope,
        )
    )
    await session.flush()
    tariff = add_tariff_version(session, ctx, group.id, plan.tariff) if plan.tariff else None
    activations = ActivationRepository(session, ctx.organization_id)
    if plan.activation.scope == ActivationScope.custom:
        activations.add(group.id, plan.activation.ids)
    await audit.record(
        session,
        ctx,
        AuditAction.user_group_created,
        group,
        user_group_id=group.id,
        new={
            "tariff": None,  # a first tariff's row replaces this, through `covers`
            "charging_groups": [{"id": cg.id, "name": cg.name} for cg, _ in plan.activation.charging_groups],
        },
        covers={"tariff": tariff} if tariff else None,
    )
    # A new group has no cards: its activation changes no list, switching access control on may.
    await enable_access_control(session, ctx, group, plan.activation.access_control_to_enable)
    return UserGroupDetail(
        group=group,
        tariff=tariff,
        upcoming_tariff=None,
        activation=plan.activation.totals,
        card_count=0,
        session_count=0,
        allowed_actions=policy.allowed_actions(group, has_sessions=False),
    )


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserGroupPage:
    """The group page as one statement reads it (the writes answer `UserGroupDetail`, the same
    representation built from their ORM objects)."""

    row: GroupRow
    upcoming_tariff: TariffRow | None
    allowed_actions: dict[str, policy.Verdict]


async def get_user_group(reads: Reads, ctx: RequestContext, id_: uuid.UUID) -> UserGroupPage:
    row, upcoming = found(await UserGroupPageRepository(reads, ctx.organization_id).get(id_), UserGroup, id_)
    # The policy reads the group's status only: a transient object, never added to a session.
    group = UserGroup(status=row.status)
    return UserGroupPage(
        row=row,
        upcoming_tariff=upcoming,
        allowed_actions=policy.allowed_actions(group, has_sessions=row.session_count > 0),
    )


async def _detail(session: AsyncSession, ctx: RequestContext, group: UserGroup) -> UserGroupDetail:
    (item,) = await _with_counts(session, ctx, [group])
    return UserGroupDetail(
        group=group,
        tariff=item.tariff,
        upcoming_tariff=await TariffRepository(session, ctx.organization_id).upcoming(group.id),
        activation=item.activation,
        card_count=item.card_count,
        session_count=item.session_count,
        allowed_actions=policy.allowed_actions(group, has_sessions=item.session_count > 0),
    )


async def list_user_groups(
    reads: Reads,
    ctx: RequestContext,
    page: PageRequest,
    status: UserGroupStatus | None,
    type_: UserGroupType | None,
    name_contains: str | None,
) -> tuple[list[GroupRow], bool]:
    """A page of groups with their counts and current tariff: one statement."""
    groups = UserGroupPageRepository(reads, ctx.organization_id)
    return await groups.search(page, status, type_, name_contains)


async def _with_counts(
    session: AsyncSession, ctx: RequestContext, groups: Sequence[UserGroup]
) -> list[UserGroupListItem]:
    """Counts for a page of groups in a fixed number of queries, whatever the page size."""
    ids = [group.id for group in groups]
    activations = ActivationRepository(session, ctx.organization_id)
    tariffs = await TariffRepository(session, ctx.organization_id).current_for_groups(ids)
    counts = await UserGroupRepository(session, ctx.organization_id).counts(ids)
    custom = await activations.custom_totals(
        [g.id for g in groups if g.activation_scope == ActivationScope.custom]
    )
    everywhere = (
        await activations.organization_totals()
        if any(g.activation_scope == ActivationScope.all for g in groups)
        else None
    )
    nothing = ActivationTotals(0, 0)
    return [
        UserGroupListItem(
            group=group,
            tariff=tariffs.get(group.id),
            activation=(
                everywhere or nothing
                if group.activation_scope == ActivationScope.all
                else custom.get(group.id, nothing)
            ),
            card_count=counts[group.id][0],
            session_count=counts[group.id][1],
        )
        for group in groups
    ]


async def history(
    reads: Reads, ctx: RequestContext, id_: uuid.UUID, page: PageRequest
) -> tuple[list[AuditRow], bool]:
    """Readable after deletion too: the trail outlives the group. Plain rows (the record's
    columns by name, no ORM objects), for the JSON page."""
    events, more = await AuditPageRepository(reads, ctx.organization_id).search(
        page, AuditFilters(user_group_id=id_)
    )
    if not events and page.after is None:  # no record yet, or no such group here
        found(await UserGroupPageRepository(reads, ctx.organization_id).find_id(id_), UserGroup, id_)
    return events, more


# Changing ----------------------------------------------------------------------------------


async def rename_user_group(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, name: str
) -> UserGroupDetail:
    group = await lock_group(session, ctx, id_)
    policy.can_rename(group).enforce()
    if name != group.name:
        await _assert_name_free(UserGroupRepository(session, ctx.organization_id), name, id_)
        group.name, group.name_key = name, name_key(name)
        await audit.record(session, ctx, AuditAction.user_group_renamed, group, user_group_id=id_)
    return await _detail(session, ctx, group)


async def delete_user_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    group = await lock_group(session, ctx, id_)
    policy.can_delete(
        group, await SessionRepository(session, ctx.organization_id).exists_for_group(id_)
    ).enforce()
    detail = await _detail(session, ctx, group)
    active_before = await local_lists.active_charging_groups(session, ctx, [id_])
    removed_cards = await CardRepository(session, ctx.organization_id).delete_for_group(id_)
    await ActivationRepository(session, ctx.organization_id).remove(id_, None)
    await local_lists.cards_removed(session, ctx, [(card["uid"], id_) for card in removed_cards])
    await local_lists.user_groups_changed(session, ctx, active_before, deleted=True)
    # The group's row comes from the deletion itself; its cards and tariff go with it (bulk delete
    # and ON DELETE CASCADE), so the record keeps them too: the trail outlives the group.
    old: dict[str, Any] = {
        "card_count": detail.card_count,
        "cards": audit.rows_values(Card, removed_cards),
        "tariff": audit.row_values(detail.tariff) if detail.tariff else None,
    }
    await UserGroupRepository(session, ctx.organization_id).delete(group)
    await audit.record(session, ctx, AuditAction.user_group_deleted, group, user_group_id=id_, old=old)


async def archive_user_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> UserGroupDetail:
    """New authorizations are refused from the commit on; running sessions finish normally."""
    return await _change_status(session, ctx, id_, UserGroupStatus.archived)


async def restore_user_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> UserGroupDetail:
    """Back to active, with the activation, tariff and cards it had (archiving kept them)."""
    return await _change_status(session, ctx, id_, UserGroupStatus.active)


async def _change_status(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, status: UserGroupStatus
) -> UserGroupDetail:
    group = await lock_group(session, ctx, id_)
    archiving = status == UserGroupStatus.archived
    (policy.can_archive(group) if archiving else policy.can_restore(group)).enforce()
    active_before = await local_lists.active_charging_groups(session, ctx, [id_])
    group.status, group.archived_at = status, datetime.now(UTC) if archiving else None
    await audit.record(
        session,
        ctx,
        AuditAction.user_group_archived if archiving else AuditAction.user_group_restored,
        group,
        user_group_id=id_,
        old={"name": group.name},
        new={"name": group.name},
    )
    await local_lists.user_groups_changed(session, ctx, active_before)
    return await _detail(session, ctx, group)


async def _assert_name_free(groups: UserGroupRepository, name: str, exclude_id: uuid.UUID | None) -> None:
    holder = await groups.name_taken(name_key(name), exclude_id)
    if holder is not None:
        state = " (archived)" if holder.status == UserGroupStatus.archived else ""
        raise AlreadyExists(
            f"A user group named {holder.name!r}{state} already exists; names are unique, ignoring case.",
            field="name",
            user_group_id=str(holder.id),
        )
