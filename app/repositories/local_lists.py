"""Statements of the OCPP local lists: what a charging group lists, what changed since a version,
and the bookkeeping writes (app/services/local_lists.py says when they run and why)."""

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, UserGroupStatus
from app.models import (
    Activation,
    Card,
    ChargingGroup,
    LocalListClock,
    LocalListHead,
    LocalListMembership,
    LocalListRemoval,
    UserGroup,
    UserGroupRules,
)
from app.models.base import AUDITED_BULK

# Ids per statement: well under the bind-parameter limits of both databases.
CHUNK = 1000
# The card and user-group columns written here are bookkeeping, left out of audit records
# (`__audit_internal__`): the change that moved them has its own record. They keep `updated_at`
# as it is (its `onupdate` would apply to these statements too).
BOOKKEEPING: dict[str, Any] = {"synchronize_session": False, AUDITED_BULK: True}


class ListEntryRow(NamedTuple):
    """An id tag of a list or a differential; `blocked` None: not listed (a removal)."""

    id_tag: str
    blocked: bool | None
    valid_from: datetime | None
    valid_until: datetime | None


class HeadRow(NamedTuple):
    access_control: bool
    version: int
    full_since: int


class CardShift(NamedTuple):
    """Cards whose published facts differ from their facts now, per (published, current) group."""

    listed_user_group_id: uuid.UUID | None
    user_group_id: uuid.UUID
    facts_differ: bool  # besides the group: blocked or validity


def _later(card: Any, group: Any) -> Any:
    """The later of two optional starts (NULL: no bound)."""
    return case((and_(group.is_not(None), or_(card.is_(None), group > card)), group), else_=card)


def _earlier(card: Any, group: Any) -> Any:
    """The earlier of two optional ends (NULL: no bound)."""
    return case((and_(group.is_not(None), or_(card.is_(None), group < card)), group), else_=card)


def _group_window(column: Any) -> Any:
    """The current guest rules' group validity bound of the card's user group (NULL: none)."""
    return (
        select(column)
        .where(UserGroupRules.user_group_id == Card.user_group_id, UserGroupRules.valid_until.is_(None))
        .scalar_subquery()
    )


# A card's validity on the lists: its own, bounded by its group's validity window. Built once:
# expressions are immutable, and building these per statement was most of the CPU of a card
# change's bookkeeping (0.4 ms for one statement, measured).
_EFFECTIVE_VALID_FROM = _later(Card.valid_from, _group_window(UserGroupRules.group_valid_from))
_EFFECTIVE_VALID_UNTIL = _earlier(Card.valid_until, _group_window(UserGroupRules.group_valid_until))


_FACTS_DIFFER = or_(
    Card.listed_blocked.is_distinct_from(Card.blocked),
    Card.listed_valid_from.is_distinct_from(_EFFECTIVE_VALID_FROM),
    Card.listed_valid_until.is_distinct_from(_EFFECTIVE_VALID_UNTIL),
)
_ORGANIZATION = bindparam("list_organization_id", type_=Card.organization_id.type)
_SEQ_PARAMETER = bindparam("list_seq_value", type_=Integer())


class Cards(NamedTuple):
    """The cards a bookkeeping statement covers: a condition written with bind parameters, so the
    statements on it are built once per shape (`shape`) and reused, and the parameters' values."""

    shape: str
    condition: ColumnElement[bool]
    values: dict[str, Any]

    def bound(self) -> ColumnElement[bool]:
        """The condition with its values in it, for a statement built per call."""
        return self.condition.params(self.values)


_UIDS_SQLITE = Card.uid.in_(bindparam("list_uids", expanding=True))
# PostgreSQL gets the UIDs as one array (see `cards_with_uids`).
_UIDS_POSTGRES = Card.uid.in_(select(func.unnest(bindparam("list_uids", type_=postgresql.ARRAY(String(36))))))
_OF_USER_GROUP = Card.user_group_id == bindparam("list_user_group_id", type_=Card.user_group_id.type)


def cards_of_user_group(user_group_id: uuid.UUID) -> Cards:
    return Cards("user_group", _OF_USER_GROUP, {"list_user_group_id": user_group_id})


def _unpublished(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Cards of the organization in `condition` whose facts on the lists differ from what was last
    published."""
    return and_(
        Card.organization_id == _ORGANIZATION,
        condition,
        or_(Card.listed_user_group_id.is_distinct_from(Card.user_group_id), _FACTS_DIFFER),
    )


def _card_shifts_statement(condition: ColumnElement[bool]) -> Any:
    differ = func.max(case((_FACTS_DIFFER, 1), else_=0))
    return (
        select(Card.listed_user_group_id, Card.user_group_id, differ)
        .where(_unpublished(condition))
        .group_by(Card.listed_user_group_id, Card.user_group_id)
    )


def _publish_statement(condition: ColumnElement[bool]) -> Any:
    return (
        update(Card)
        .where(_unpublished(condition))
        .values(
            list_seq=_SEQ_PARAMETER,
            listed_user_group_id=Card.user_group_id,
            listed_blocked=Card.blocked,
            listed_valid_from=_EFFECTIVE_VALID_FROM,
            listed_valid_until=_EFFECTIVE_VALID_UNTIL,
            updated_at=Card.updated_at,
        )
        .execution_options(**BOOKKEEPING)
    )


# (statement, shape of the condition) -> the statement, built on first use.
_TEMPLATES: dict[tuple[str, str], Any] = {}


def active_on(charging_group_id: Any) -> ColumnElement[bool]:
    """The user group's cards are on the charging group's list (when its access control is on):
    the group is not archived and active there (scope `all`, or an activation). The decision
    table of POST /v1/authorize refuses every other card there before looking at the card itself,
    so the listed cards are exactly those whose answer depends on the card."""
    return and_(
        UserGroup.status == UserGroupStatus.active,
        or_(
            UserGroup.activation_scope == ActivationScope.all,
            exists().where(
                Activation.user_group_id == UserGroup.id, Activation.charging_group_id == charging_group_id
            ),
        ),
    )


def _chunks(ids: Iterable[uuid.UUID]) -> list[list[uuid.UUID]]:
    unique = sorted(set(ids))
    return [unique[start : start + CHUNK] for start in range(0, len(unique), CHUNK)]


class LocalListRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    def cards_with_uids(self, uids: Sequence[str]) -> Cards:
        """PostgreSQL gets the UIDs as one array: an IN list of literals would be matched one by one
        against every card of the organization once a reused statement's generic plan scans them
        (0.5 s per 1,000 UIDs at 30,000 cards, measured); the array joins by hash or index."""
        if self._is_postgres:
            return Cards("uids_array", _UIDS_POSTGRES, {"list_uids": list(uids)})
        return Cards("uids", _UIDS_SQLITE, {"list_uids": list(uids)})

    def _template(self, name: str, cards: Cards, build: Any) -> Any:
        key = (name, cards.shape)
        if key not in _TEMPLATES:
            _TEMPLATES[key] = build(cards.condition)
        return _TEMPLATES[key]

    def _parameters(self, cards: Cards, **more: Any) -> dict[str, Any]:
        return {"list_organization_id": self.organization_id, **cards.values, **more}

    @property
    def _is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    @property
    def _insert(self) -> Any:
        return postgresql.insert if self._is_postgres else sqlite.insert

    # The sequence ---------------------------------------------------------------------------

    async def next_seq(self) -> int:
        """The organization's next list sequence number. The clock's row stays locked until the
        transaction ends, so list changes commit in the order of their numbers (SQLite's write
        transactions are serialized already)."""
        statement = self._insert(LocalListClock).values(organization_id=self.organization_id, seq=1)
        statement = statement.on_conflict_do_update(
            index_elements=["organization_id"], set_={"seq": LocalListClock.seq + 1}
        ).returning(LocalListClock.seq)
        return int((await self.session.execute(statement)).scalar_one())

    # Cards ----------------------------------------------------------------------------------

    async def card_shifts(self, cards: Cards) -> list[CardShift]:
        statement = self._template("shifts", cards, _card_shifts_statement)
        rows = (await self.session.execute(statement, self._parameters(cards))).all()
        return [CardShift(listed, current, bool(differ)) for listed, current, differ in rows]

    async def record_moves(self, cards: Cards, seq: int) -> None:
        """`cards` moved away from the group they were published under: removals there (before
        `publish` forgets that group)."""
        moved = select(
            literal(self.organization_id, Card.organization_id.type),
            Card.listed_user_group_id,
            Card.uid,
            literal(seq, Integer()),
        ).where(
            _unpublished(cards.bound()).params(list_organization_id=self.organization_id),
            Card.listed_user_group_id.is_not(None),
            Card.listed_user_group_id != Card.user_group_id,
        )
        await self._record_removals(moved)

    async def record_removals(self, cards: Collection[tuple[str, uuid.UUID]], seq: int) -> None:
        """Removed cards (uid, user group), so differentials send their removal."""
        ordered = sorted(set(cards))
        for start in range(0, len(ordered), CHUNK):
            values = [
                {"organization_id": self.organization_id, "user_group_id": group, "id_tag": uid, "seq": seq}
                for uid, group in ordered[start : start + CHUNK]
            ]
            statement = self._insert(LocalListRemoval).values(values)
            await self.session.execute(self._on_removal_conflict(statement))

    async def _record_removals(self, rows: Any) -> None:
        columns = ["organization_id", "user_group_id", "id_tag", "seq"]
        source = select(rows.subquery()).where(true())  # SQLite: ON CONFLICT after a plain SELECT
        statement = self._insert(LocalListRemoval).from_select(columns, source)
        await self.session.execute(self._on_removal_conflict(statement))

    @staticmethod
    def _on_removal_conflict(statement: Any) -> Any:
        return statement.on_conflict_do_update(
            index_elements=["organization_id", "user_group_id", "id_tag"],
            set_={"seq": statement.excluded.seq},
        )

    async def publish(self, cards: Cards, seq: int) -> None:
        """Marks `cards` whose facts on the lists changed as changed at `seq`."""
        statement = self._template("publish", cards, _publish_statement)
        await self.session.execute(statement, self._parameters(cards, list_seq_value=seq))

    async def raise_user_groups(self, user_group_ids: Iterable[uuid.UUID], seq: int) -> None:
        for chunk in _chunks(user_group_ids):
            await self.session.execute(
                update(UserGroup)
                .where(UserGroup.organization_id == self.organization_id, UserGroup.id.in_(chunk))
                .values(card_seq=seq, updated_at=UserGroup.updated_at)
                .execution_options(**BOOKKEEPING)
            )

    async def has_cards(self, user_group_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(exists().where(Card.user_group_id == user_group_id))))

    async def card_seq(self, user_group_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(select(UserGroup.card_seq).where(UserGroup.id == user_group_id)) or 0
        )

    # Where user groups are active ------------------------------------------------------------

    async def active_charging_groups(
        self, user_group_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
        """Per user group, the charging groups whose lists hold its cards when their access
        control is on."""
        ids = list(user_group_ids)
        statement = (
            select(UserGroup.id, ChargingGroup.id)
            .join(ChargingGroup, ChargingGroup.organization_id == UserGroup.organization_id)
            .where(
                UserGroup.organization_id == self.organization_id,
                UserGroup.id.in_(ids),
                active_on(ChargingGroup.id),
            )
        )
        found: dict[uuid.UUID, set[uuid.UUID]] = {id_: set() for id_ in ids}
        for user_group_id, charging_group_id in (await self.session.execute(statement)).all():
            found[user_group_id].add(charging_group_id)
        return {id_: frozenset(charging_groups) for id_, charging_groups in found.items()}

    async def record_memberships(
        self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID], seq: int
    ) -> None:
        for chunk in _chunks(charging_group_ids):
            values = [
                {
                    "charging_group_id": id_,
                    "user_group_id": user_group_id,
                    "organization_id": self.organization_id,
                    "seq": seq,
                }
                for id_ in chunk
            ]
            statement = self._insert(LocalListMembership).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=["charging_group_id", "user_group_id"], set_={"seq": statement.excluded.seq}
            )
            await self.session.execute(statement)

    # Charging groups' heads ----------------------------------------------------------------

    async def raise_heads(
        self, charging_group_ids: Iterable[uuid.UUID], seq: int, *, full: bool = False
    ) -> None:
        """The lists of these charging groups (those with access control on) changed at `seq`;
        `full`: no differential reaches across it."""
        values: dict[str, Any] = {"version": seq}
        if full:
            values["full_since"] = seq
        await self._update_heads(charging_group_ids, values, access_control=True)

    async def fold_heads(self, charging_group_ids: Iterable[uuid.UUID], card_seq: int) -> None:
        """A user group without cards stops counting in these charging groups' versions (it leaves
        them, or its `card_seq` is cleared): their heads keep its `card_seq`, lest they fall."""
        kept = case(
            (and_(LocalListHead.version < card_seq, LocalListHead.on_since < card_seq), card_seq),
            else_=LocalListHead.version,
        )
        await self._update_heads(charging_group_ids, {"version": kept}, access_control=True)

    async def set_heads(self, charging_group_ids: Iterable[uuid.UUID], **values: Any) -> None:
        await self._update_heads(charging_group_ids, values, access_control=None)

    async def _update_heads(
        self, charging_group_ids: Iterable[uuid.UUID], values: dict[str, Any], access_control: bool | None
    ) -> None:
        for chunk in _chunks(charging_group_ids):
            await self._ensure_heads(chunk)
            condition = [
                LocalListHead.organization_id == self.organization_id,
                LocalListHead.charging_group_id.in_(chunk),
            ]
            if access_control is not None:
                condition.append(
                    exists().where(
                        ChargingGroup.id == LocalListHead.charging_group_id,
                        ChargingGroup.access_control == access_control,
                    )
                )
            await self.session.execute(
                update(LocalListHead)
                .where(*condition)
                .values(values)
                .execution_options(synchronize_session=False)
            )

    async def _ensure_heads(self, charging_group_ids: list[uuid.UUID]) -> None:
        values = [
            {"charging_group_id": id_, "organization_id": self.organization_id, "version": 0}
            for id_ in charging_group_ids
        ]
        await self.session.execute(
            self._insert(LocalListHead)
            .values(values)
            .on_conflict_do_nothing(index_elements=["charging_group_id"])
        )

    def _version(self, charging_group_id: uuid.UUID) -> Any:
        """The charging group's list version with its access control on: its head's, or the last
        card change among the user groups active there after access control last switched on."""
        head = select(LocalListHead).where(LocalListHead.charging_group_id == charging_group_id).subquery()
        own = func.coalesce(select(head.c.version).scalar_subquery(), 0)
        cards = (
            select(func.max(UserGroup.card_seq))
            .where(
                UserGroup.organization_id == self.organization_id,
                UserGroup.card_seq > func.coalesce(select(head.c.on_since).scalar_subquery(), 0),
                active_on(charging_group_id),
            )
            .scalar_subquery()
        )
        return case((func.coalesce(cards, 0) > own, cards), else_=own)

    async def head(self, charging_group_id: uuid.UUID) -> HeadRow | None:
        """The charging group's access control, list version and `full_since`; None: no such
        charging group in the organization."""
        statement = (
            select(
                ChargingGroup.access_control,
                case(
                    (ChargingGroup.access_control == true(), self._version(charging_group_id)),
                    else_=func.coalesce(LocalListHead.version, 0),
                ),
                func.coalesce(LocalListHead.full_since, 0),
            )
            .outerjoin(LocalListHead, LocalListHead.charging_group_id == ChargingGroup.id)
            .where(
                ChargingGroup.id == charging_group_id, ChargingGroup.organization_id == self.organization_id
            )
        )
        row = (await self.session.execute(statement)).one_or_none()
        if row is None:
            return None
        access_control, version, full_since = row
        return HeadRow(bool(access_control), int(version), int(full_since))

    async def version_if_on(self, charging_group_id: uuid.UUID) -> int:
        """The version the charging group's list has with its access control on."""
        return int(await self.session.scalar(select(self._version(charging_group_id))) or 0)

    # Lists -----------------------------------------------------------------------------------

    def _listed(self, charging_group_id: uuid.UUID) -> Select[Any]:
        """The cards on the charging group's list (its access control aside), with their facts."""
        return (
            select(
                Card.uid.label("id_tag"),
                Card.blocked.label("blocked"),
                _EFFECTIVE_VALID_FROM.label("valid_from"),
                _EFFECTIVE_VALID_UNTIL.label("valid_until"),
            )
            .join(UserGroup, UserGroup.id == Card.user_group_id)
            .where(Card.organization_id == self.organization_id, active_on(charging_group_id))
        )

    async def holding_cards(self, charging_group_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """The charging groups among these whose lists hold a card (access control aside), in a
        few statements however many: all of them when a user group active everywhere has cards,
        else those where a user group with cards has an activation (`active_on`, read per user
        group instead of per charging group)."""
        with_cards = and_(
            UserGroup.status == UserGroupStatus.active, exists().where(Card.user_group_id == UserGroup.id)
        )
        everywhere = exists().where(
            UserGroup.organization_id == self.organization_id,
            UserGroup.activation_scope == ActivationScope.all,
            with_cards,
        )
        if await self.session.scalar(select(everywhere)):
            return set(charging_group_ids)
        found: set[uuid.UUID] = set()
        for chunk in _chunks(charging_group_ids):
            statement = (
                select(Activation.charging_group_id)
                .distinct()
                .join(UserGroup, UserGroup.id == Activation.user_group_id)
                .where(Activation.charging_group_id.in_(chunk), with_cards)
            )
            found |= set((await self.session.execute(statement)).scalars())
        return found

    async def full(self, charging_group_id: uuid.UUID) -> list[ListEntryRow]:
        rows = (await self.session.execute(self._listed(charging_group_id))).all()
        return sorted((ListEntryRow._make(row) for row in rows), key=lambda row: row.id_tag)

    async def differential(self, charging_group_id: uuid.UUID, since: int) -> list[ListEntryRow]:
        """Every id tag whose entry may have changed after `since`, with its entry now (blocked
        None: not listed). Its cost follows the number of changes since then, not the list's size."""
        rows = (await self.session.execute(self.differential_statement(charging_group_id, since))).all()
        return sorted((ListEntryRow._make(row) for row in rows), key=lambda row: row.id_tag)

    def differential_statement(self, charging_group_id: uuid.UUID, since: int) -> Select[Any]:
        rejoined = select(LocalListMembership.user_group_id).where(
            LocalListMembership.charging_group_id == charging_group_id, LocalListMembership.seq > since
        )
        active_here = select(UserGroup.id).where(
            UserGroup.organization_id == self.organization_id, active_on(charging_group_id)
        )
        changed_cards = (
            select(Card.uid.label("id_tag"))
            .join(UserGroup, UserGroup.id == Card.user_group_id)
            .where(
                Card.organization_id == self.organization_id,
                Card.list_seq > since,
                active_on(charging_group_id),
            )
        )
        removed = select(LocalListRemoval.id_tag).where(
            LocalListRemoval.organization_id == self.organization_id,
            LocalListRemoval.seq > since,
            or_(
                LocalListRemoval.user_group_id.in_(active_here), LocalListRemoval.user_group_id.in_(rejoined)
            ),
        )
        # By user group alone: the organization's index would walk all its cards (SQLite).
        of_changed_groups = select(Card.uid.label("id_tag")).where(Card.user_group_id.in_(rejoined))
        candidates = union(changed_cards, removed, of_changed_groups).subquery("candidates")
        # Each candidate looks its card up by UID (two flat outer joins: a join with the listing,
        # or a nested one, gets materialized whole by SQLite).
        listed = UserGroup.id.is_not(None)
        return (
            select(
                candidates.c.id_tag,
                case((listed, Card.blocked)),
                case((listed, _EFFECTIVE_VALID_FROM)),
                case((listed, _EFFECTIVE_VALID_UNTIL)),
            )
            .select_from(candidates)
            .outerjoin(
                Card, and_(Card.organization_id == self.organization_id, Card.uid == candidates.c.id_tag)
            )
            .outerjoin(UserGroup, and_(UserGroup.id == Card.user_group_id, active_on(charging_group_id)))
        )
