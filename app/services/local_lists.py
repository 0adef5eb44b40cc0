"""OCPP local authorization lists per charging group, versioned here (issue 12, item 3).

What a charging group's list holds
    Every card whose user group is active there (scope `all`, or an activation) and not archived,
    when the charging group's access control is on. Each entry carries the card's status there,
    which is the status POST /v1/authorize answers for that card there at the same moment:
    `Accepted`, `Blocked` (the card is blocked: listed, so that an offline charger refuses it at
    once instead of trusting its authorization cache) or `Expired` (before `valid_from` or from
    `valid_until` on); and the card's `valid_until` as `expiryDate` (1.6) /
    `cacheExpiryDateTime` (2.0.1), after which the charger itself treats the card as expired.
    Every other card of the organization gets a refusal there from POST /v1/authorize that does
    not depend on the card (`Invalid` for an archived group, `NotAtThisLocation`), or is unknown:
    it is not on the list.
    With access control off anyone charges (free charging): the list is empty, and the response
    says `access_control: false`, so the integration can switch the charger's authorization off.

How versions move
    Each charging group has a list version (1 for a new one) and one entry per id tag it ever
    listed: the card facts the status is read from, whether it is listed (False: a tombstone) and
    the version at which it last changed. Every change that can alter a list (card added,
    removed, blocked, moved, its validity; activation; archive, restore; access control; user
    group deletion) calls one function here inside its own transaction. It compares the desired
    entries with the stored ones on the pairs (charging group, id tag) the change can touch, in
    SQL, and only where they differ raises the group's version (once per transaction) and writes
    the entries at it. So a version rises exactly when a committed change alters the list, and a
    differential since N is the entries with version > N: an index range whose cost depends on
    the number of changes, not on the size of the list. Tombstones are kept (one row per id tag
    ever listed on the group, reused when it comes back), so every differential can be answered;
    a `since_version` of 0 (a charger without a list) or one this service never issued (greater
    than the current version) gets the full list.

Time
    Entries hold facts, and the status is read at request time, exactly as the decision is.
    `valid_until` travels as the expiry date, so the passing of a card's end needs no update. A
    card whose `valid_from` is still ahead is listed `Expired`; when that moment passes nothing
    commits, so the version does not rise and a differential does not carry the new `Accepted`
    (OCPP has no start date for an entry). Online, POST /v1/authorize accepts the card from that
    moment; an integration that wants it accepted offline too fetches the full list after it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuthorizationReason, AuthorizationStatus, LocalListUpdateType
from app.errors import NotFound
from app.repositories.local_lists import (
    LocalListRepository,
    Scope,
    charging_groups_scope,
    either,
    uids_scope,
    user_groups_scope,
)
from app.services import policy
from app.services.context import RequestContext

# Card UIDs per statement: well under the bind-parameter limits of both databases.
UID_CHUNK = 1000
_BUMPED = "local_lists_bumped"


@dataclass(frozen=True)
class Entry:
    id_tag: str
    status: AuthorizationStatus | None  # None: remove the id tag (differential only)
    expires_at: datetime | None


@dataclass(frozen=True)
class LocalList:
    charging_group_id: uuid.UUID
    access_control: bool
    version: int
    update_type: LocalListUpdateType
    since_version: int | None
    entries: list[Entry]


# Keeping the lists in step: called by the services that change what a list depends on ---------


async def cards_changed(session: AsyncSession, ctx: RequestContext, uids: Sequence[str]) -> None:
    """Cards added, edited (blocked, validity), moved or removed: their entries everywhere."""
    unique = sorted(set(uids))
    chunks = [unique[start : start + UID_CHUNK] for start in range(0, len(unique), UID_CHUNK)]
    await _sync(session, ctx.organization_id, [uids_scope(chunk) for chunk in chunks])


async def user_groups_changed(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_ids: Sequence[uuid.UUID],
    charging_group_ids: Sequence[uuid.UUID] = (),
) -> None:
    """Activation, archive or restore of user groups (their cards' entries everywhere), and the
    charging groups whose access control that switched on (their whole lists)."""
    scopes = [user_groups_scope(user_group_ids)]
    if charging_group_ids:
        scopes = [either(scopes[0], charging_groups_scope(charging_group_ids))]
    await _sync(session, ctx.organization_id, scopes)


async def charging_groups_changed(
    session: AsyncSession, ctx: RequestContext, charging_group_ids: Sequence[uuid.UUID]
) -> None:
    """A charging group created, or its access control switched: its whole list."""
    repository = LocalListRepository(session, ctx.organization_id)
    await session.flush()
    await repository.ensure_heads(charging_group_ids)
    await _sync(session, ctx.organization_id, [charging_groups_scope(charging_group_ids)])


async def _sync(session: AsyncSession, organization_id: uuid.UUID, scopes: list[Scope]) -> None:
    if not scopes:
        return
    await session.flush()  # the change itself is what the comparison must see
    repository = LocalListRepository(session, organization_id)
    await repository.lock()
    changed: set[uuid.UUID] = set()
    for scope in scopes:
        changed |= await repository.changed_charging_groups(scope)
    if not changed:
        return
    bumped = _bumped_in_this_transaction(session)
    to_bump = changed - bumped
    await repository.ensure_heads(to_bump)
    await repository.bump(to_bump)
    bumped |= to_bump
    for scope in scopes:
        await repository.write(scope)


def _bumped_in_this_transaction(session: AsyncSession) -> set[uuid.UUID]:
    """A version rises once per transaction, however many changes in it touch the list."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_BUMPED)
    if held is None or held[0] is not transaction:
        held = (transaction, set())
        session.info[_BUMPED] = held
    bumped: set[uuid.UUID] = held[1]
    return bumped


# Reading ---------------------------------------------------------------------------------------


def entry_status(
    blocked: bool, valid_from: datetime | None, valid_until: datetime | None, now: datetime
) -> AuthorizationStatus:
    reason = policy.card_refusal(blocked, valid_from, valid_until, now) or AuthorizationReason.accepted
    return policy.REASON_STATUS[reason]


async def local_list(
    session: AsyncSession,
    ctx: RequestContext,
    charging_group_id: uuid.UUID,
    since_version: int | None,
    now: datetime,
) -> LocalList:
    repository = LocalListRepository(session, ctx.organization_id)
    differential = since_version is not None and since_version > 0
    rows = await repository.read(charging_group_id, since_version if differential else None)
    if rows is None:
        raise NotFound(f"Charging group {charging_group_id} not found.")
    version = rows[0][1] or 1
    if differential and since_version is not None and since_version > version:
        # A version this service never issued (another group's, a restored database's): the
        # charger's list is unknown, so it gets the whole list.
        differential = False
        rows = await repository.read(charging_group_id, None)
        if rows is None:
            raise NotFound(f"Charging group {charging_group_id} not found.")
        version = rows[0][1] or 1
    entries = [
        Entry(
            id_tag,
            entry_status(blocked, valid_from, valid_until, now) if listed else None,
            valid_until if listed else None,
        )
        for _, _, id_tag, listed, blocked, valid_from, valid_until in rows
        if id_tag is not None
    ]
    return LocalList(
        charging_group_id=charging_group_id,
        access_control=bool(rows[0][0]),
        version=version,
        update_type=LocalListUpdateType.differential if differential else LocalListUpdateType.full,
        since_version=since_version if differential else None,
        entries=entries,
    )
