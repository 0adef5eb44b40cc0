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
    Nothing stores a list: a charging group's list is read from the cards of the user groups
    active on it, and what is kept is *when* things changed, as numbers of one sequence per
    organization (app/models/local_lists.py). Every transaction that changes a list takes the next
    number once; its row lock makes list changes commit in the order of their numbers. A card
    keeps the facts last published for it (its user group, blocked, validity bounded by the
    group's window) and the number of that change (`list_seq`); a user group keeps the last such
    number among its cards (`card_seq`). A charging group's version is the greater of its head's
    `version` (changes to its list as a whole: a user group with cards starting or ceasing to be
    active there, access control) and the `card_seq` of the user groups active there (with
    access control on). So a card change writes one card row and one user-group row, whatever the
    number of charging groups; only changes of where a group is active write per charging group.
    The version rises exactly when a committed change alters the list:
    * a card change is found by comparing the card's facts now with the published ones, in SQL,
      so an edit that leaves them alone (a label, the same value again) changes nothing;
    * a card moved between two user groups raises the heads where exactly one of them is active
      (and where both are, if its facts differ between them), not the groups' `card_seq`;
    * a user group without cards changes no list when it starts or stops being active;
    * switching access control on or off changes a list only if it holds cards.
    A differential since N is every id tag that may have changed after N, with its entry now:
    cards with `list_seq > N` in user groups active there, removals after N (cards deleted or
    moved away, `LocalListRemoval`) and all cards of the user groups that started or stopped being
    active there after N (`LocalListMembership`). Its cost follows the number of changes in the
    organization since N, not the size of the list. A `since_version` of 0 (a charger without a
    list), one this service never issued (greater than the current version) or one from before
    the list was replaced as a whole (access control switched, `full_since`) gets the full list.

Time
    Entries hold facts, and the status is read at request time, exactly as the decision is.
    `valid_until` travels as the expiry date, so the passing of a card's end needs no update. A
    card whose `valid_from` is still ahead is listed `Expired`; when that moment passes nothing
    commits, so the version does not rise and a differential does not carry the new `Accepted`
    (OCPP has no start date for an entry). Online, POST /v1/authorize accepts the card from that
    moment; an integration that wants it accepted offline too fetches the full list after it.
"""

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuthorizationReason, AuthorizationStatus, LocalListUpdateType
from app.errors import NotFound
from app.repositories.local_lists import CHUNK, Cards, LocalListRepository, cards_of_user_group
from app.services import policy
from app.services.context import RequestContext

_SEQ = "local_lists_seq"

# Per user group, the charging groups it is active on (`active_charging_groups`), read before a
# change and handed to `user_groups_changed` after it.
ActiveOn = Mapping[uuid.UUID, frozenset[uuid.UUID]]


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
    """Cards added, edited (blocked, validity) or moved."""
    unique = sorted(set(uids))
    repository = LocalListRepository(session, ctx.organization_id)
    for start in range(0, len(unique), CHUNK):
        await _publish_cards(session, ctx, repository.cards_with_uids(unique[start : start + CHUNK]))


async def user_group_cards_changed(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID
) -> None:
    """The group's validity window (a guest rule) bounds each of its cards' own."""
    await _publish_cards(session, ctx, cards_of_user_group(user_group_id))


async def cards_removed(
    session: AsyncSession, ctx: RequestContext, cards: Collection[tuple[str, uuid.UUID]]
) -> None:
    """Cards deleted: (uid, user group) each."""
    if not cards:
        return
    repository = LocalListRepository(session, ctx.organization_id)
    seq = await _seq(session, repository)
    await repository.record_removals(cards, seq)
    await repository.raise_user_groups({group for _, group in cards}, seq)


async def active_charging_groups(
    session: AsyncSession, ctx: RequestContext, user_group_ids: Collection[uuid.UUID]
) -> ActiveOn:
    await session.flush()
    return await LocalListRepository(session, ctx.organization_id).active_charging_groups(user_group_ids)


async def user_groups_changed(
    session: AsyncSession, ctx: RequestContext, before: ActiveOn, *, deleted: bool = False
) -> None:
    """Activation, archive, restore or deletion of user groups: `before` is what
    `active_charging_groups` said before the change (`deleted`: the groups are active nowhere now;
    called before their rows go)."""
    await session.flush()
    repository = LocalListRepository(session, ctx.organization_id)
    after = {} if deleted else await repository.active_charging_groups(before)
    for user_group_id, was in before.items():
        now = after.get(user_group_id, frozenset())
        joined, left = now - was, was - now
        if not joined and not left:
            continue
        seq = await _seq(session, repository)
        if await repository.has_cards(user_group_id):
            # Its cards join or leave those lists.
            await repository.record_memberships(user_group_id, joined | left, seq)
            await repository.raise_heads(joined | left, seq)
        else:
            # No list changes. Where it leaves, a differential must still find the removals of its
            # earlier cards. Its last card change stops counting in the versions of the lists it
            # is on (they keep it in their heads instead), so joining a list raises no version.
            await repository.record_memberships(user_group_id, left, seq)
            card_seq = await repository.card_seq(user_group_id)
            if card_seq:
                await repository.fold_heads(was, card_seq)
                await repository.raise_user_groups([user_group_id], 0)


async def charging_group_created(
    session: AsyncSession, ctx: RequestContext, charging_group_id: uuid.UUID
) -> None:
    await session.flush()
    repository = LocalListRepository(session, ctx.organization_id)
    seq = await _seq(session, repository)
    await repository.set_heads([charging_group_id], version=seq, full_since=seq, on_since=seq)


async def access_control_switched(
    session: AsyncSession, ctx: RequestContext, charging_group_ids: Collection[uuid.UUID], on: bool
) -> None:
    """Access control switched on (the list fills) or off (the list empties) on these charging
    groups. Either way the chargers need the whole list; if it held no card and holds none now,
    nothing changed and the version stays."""
    if not charging_group_ids:
        return
    await session.flush()
    repository = LocalListRepository(session, ctx.organization_id)
    seq = await _seq(session, repository)
    holding = await repository.holding_cards(charging_group_ids)
    empty = [id_ for id_ in charging_group_ids if id_ not in holding]
    if on:
        await repository.set_heads(holding, version=seq, full_since=seq, on_since=seq)
        # Card changes from before count no more: the list was empty then.
        await repository.set_heads(empty, on_since=seq)
        return
    await repository.set_heads(holding, version=seq, full_since=seq)
    for charging_group_id in empty:  # switched off one at a time (PATCH of a charging group)
        # Its version from now on is its head's: keep the one it had.
        version = await repository.version_if_on(charging_group_id)
        await repository.set_heads([charging_group_id], version=version)


async def _publish_cards(session: AsyncSession, ctx: RequestContext, cards: Cards) -> None:
    await session.flush()  # the change itself is what the comparison must see
    repository = LocalListRepository(session, ctx.organization_id)
    shifts = await repository.card_shifts(cards)
    if not shifts:
        return
    seq = await _seq(session, repository)
    moves = [shift for shift in shifts if shift.listed_user_group_id not in (None, shift.user_group_id)]
    if moves:
        await repository.record_moves(cards, seq)
    await repository.publish(cards, seq)
    # Added or edited in place: a change on every list the group is on.
    await repository.raise_user_groups({shift.user_group_id for shift in shifts if shift not in moves}, seq)
    # Moved: a change where exactly one of the two groups is active, and where both are if the
    # card's facts differ between them (the groups' validity windows).
    for shift in moves:
        assert shift.listed_user_group_id is not None
        pair = [shift.listed_user_group_id, shift.user_group_id]
        active = await repository.active_charging_groups(pair)
        source, target = active[pair[0]], active[pair[1]]
        await repository.raise_heads((source | target) if shift.facts_differ else (source ^ target), seq)


async def _seq(session: AsyncSession, repository: LocalListRepository) -> int:
    """The list sequence number of this transaction's changes: one per transaction."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_SEQ)
    if held is None or held[0] is not transaction:
        held = (transaction, await repository.next_seq())
        session.info[_SEQ] = held
    return int(held[1])


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
    # The version first: a change committing between the two reads then shows in the entries
    # too, and the next differential sends it again, which is harmless. The other order could
    # lose it.
    head = await repository.head(charging_group_id)
    if head is None:
        raise NotFound(f"Charging group {charging_group_id} not found.")
    # No list (0), a version this service never issued (another group's, a restored database's),
    # or one from before the list was replaced as a whole: the charger gets the whole list.
    differential = (
        since_version is not None and since_version > 0 and head.full_since <= since_version <= head.version
    )
    if not head.access_control:
        rows = []
    elif differential:
        assert since_version is not None
        rows = await repository.differential(charging_group_id, since_version)
    else:
        rows = await repository.full(charging_group_id)
    entries = [
        Entry(
            row.id_tag,
            None if row.blocked is None else entry_status(row.blocked, row.valid_from, row.valid_until, now),
            None if row.blocked is None else row.valid_until,
        )
        for row in rows
    ]
    return LocalList(
        charging_group_id=charging_group_id,
        access_control=head.access_control,
        version=head.version,
        update_type=LocalListUpdateType.differential if differential else LocalListUpdateType.full,
        since_version=since_version if differential else None,
        entries=entries,
    )
