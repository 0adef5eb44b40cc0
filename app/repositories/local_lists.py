"""Statements of the OCPP local lists: what should be listed, what is, and the set-based writes
that make the two agree (app/services/local_lists.py says when they run)."""

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Uuid,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, UserGroupStatus
from app.models import (
    Activation,
    Card,
    ChargingGroup,
    LocalListEntry,
    LocalListHead,
    UserGroup,
    UserGroupRules,
)

# A scope names the (charging group, id tag) pairs a change may have touched, as a condition on
# the two columns: the desired list and the stored entries are compared on those pairs only.
Scope = Callable[[Any, Any], ColumnElement[bool]]


class ListRow(NamedTuple):
    """A row of `read`: the charging group's facts (the same in every row), then one entry (its
    columns None when the list has no entry to give)."""

    access_control: bool
    version: int | None
    id_tag: str | None
    listed: bool | None
    blocked: bool | None
    valid_from: datetime | None
    valid_until: datetime | None


ENTRY_COLUMNS: tuple[Any, ...] = (
    LocalListEntry.id_tag,
    LocalListEntry.listed,
    LocalListEntry.blocked,
    LocalListEntry.valid_from,
    LocalListEntry.valid_until,
)


def uids_scope(uids: Sequence[str]) -> Scope:
    return lambda charging_group_id, id_tag: id_tag.in_(list(uids))


def user_groups_scope(user_group_ids: Iterable[uuid.UUID]) -> Scope:
    ids = list(user_group_ids)
    return lambda charging_group_id, id_tag: id_tag.in_(select(Card.uid).where(Card.user_group_id.in_(ids)))


def charging_groups_scope(charging_group_ids: Iterable[uuid.UUID]) -> Scope:
    ids = list(charging_group_ids)
    return lambda charging_group_id, id_tag: charging_group_id.in_(ids)


def either(*scopes: Scope) -> Scope:
    return lambda charging_group_id, id_tag: or_(*(scope(charging_group_id, id_tag) for scope in scopes))


def _later(card: Any, group: Any) -> Any:
    """The later of two optional starts (NULL: no bound)."""
    return case((and_(group.is_not(None), or_(card.is_(None), group > card)), group), else_=card)


def _earlier(card: Any, group: Any) -> Any:
    """The earlier of two optional ends (NULL: no bound)."""
    return case((and_(group.is_not(None), or_(card.is_(None), group < card)), group), else_=card)


class LocalListRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    @property
    def _is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def lock(self) -> None:
        """Serializes list maintenance in the organization until the transaction ends, so each
        comparison sees every change committed before it (PostgreSQL; SQLite's write transactions
        are serialized already, BEGIN IMMEDIATE)."""
        if self._is_postgres:
            key = func.hashtextextended(f"local-lists:{self.organization_id}", 0)
            await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    def desired(self, scope: Scope) -> Subquery:
        """Every card listed on a charging group, in the scope: access control on there, the card's
        user group not archived and active there (scope `all`, or an activation). The decision
        table of POST /v1/authorize (app/services/policy.py) refuses every other card there
        before looking at the card itself, so these are exactly the cards whose answer depends on
        the card: Accepted, Blocked or Expired."""
        active_here = or_(
            UserGroup.activation_scope == ActivationScope.all,
            exists().where(
                Activation.user_group_id == UserGroup.id,
                Activation.charging_group_id == ChargingGroup.id,
            ),
        )
        return (
            select(
                ChargingGroup.id.label("charging_group_id"),
                Card.uid.label("id_tag"),
                Card.blocked.label("blocked"),
                _later(Card.valid_from, UserGroupRules.group_valid_from).label("valid_from"),
                _earlier(Card.valid_until, UserGroupRules.group_valid_until).label("valid_until"),
            )
            .select_from(Card)
            .join(UserGroup, UserGroup.id == Card.user_group_id)
            # The group's validity window (a guest rule) bounds every card's own.
            .outerjoin(
                UserGroupRules,
                and_(UserGroupRules.user_group_id == UserGroup.id, UserGroupRules.valid_until.is_(None)),
            )
            .join(
                ChargingGroup,
                and_(
                    ChargingGroup.organization_id == Card.organization_id,
                    ChargingGroup.access_control == true(),
                ),
            )
            .where(
                Card.organization_id == self.organization_id,
                UserGroup.status == UserGroupStatus.active,
                active_here,
                scope(ChargingGroup.id, Card.uid),
            )
            .subquery("desired")
        )

    def _stale(self, wanted: Subquery) -> Select[Any]:
        """Desired rows whose entry is missing, a tombstone, or holds other facts."""
        entry = LocalListEntry
        same = exists().where(
            entry.charging_group_id == wanted.c.charging_group_id,
            entry.id_tag == wanted.c.id_tag,
            entry.listed == true(),
            entry.blocked == wanted.c.blocked,
            entry.valid_from.is_not_distinct_from(wanted.c.valid_from),
            entry.valid_until.is_not_distinct_from(wanted.c.valid_until),
        )
        return select(wanted).where(~same)

    def _gone(self, scope: Scope, wanted: Subquery) -> ColumnElement[bool]:
        """Listed entries in the scope that are no longer desired."""
        entry = LocalListEntry
        return and_(
            entry.organization_id == self.organization_id,
            entry.listed == true(),
            scope(entry.charging_group_id, entry.id_tag),
            ~exists().where(
                wanted.c.charging_group_id == entry.charging_group_id, wanted.c.id_tag == entry.id_tag
            ),
        )

    async def changed_charging_groups(self, scope: Scope) -> set[uuid.UUID]:
        wanted = self.desired(scope)
        stale = select(self._stale(wanted).subquery().c.charging_group_id)
        gone = select(LocalListEntry.charging_group_id).where(self._gone(scope, wanted))
        rows = await self.session.execute(stale.union(gone))
        return set(rows.scalars().all())

    async def ensure_heads(self, charging_group_ids: Iterable[uuid.UUID]) -> None:
        values = [
            {"charging_group_id": id_, "organization_id": self.organization_id, "version": 1}
            for id_ in charging_group_ids
        ]
        if values:
            insert: Any = postgresql.insert if self._is_postgres else sqlite.insert
            await self.session.execute(
                insert(LocalListHead)
                .values(values)
                .on_conflict_do_nothing(index_elements=["charging_group_id"])
            )

    async def bump(self, charging_group_ids: Iterable[uuid.UUID]) -> None:
        await self.session.execute(
            update(LocalListHead)
            .where(
                LocalListHead.organization_id == self.organization_id,
                LocalListHead.charging_group_id.in_(list(charging_group_ids)),
            )
            .values(version=LocalListHead.version + 1)
        )

    async def write(self, scope: Scope) -> None:
        """Makes the stored entries in the scope equal the desired ones: changed or new entries are
        upserted, entries no longer desired become tombstones, each at its group's current version
        (the caller raised it). Two statements, whatever the number of rows."""
        wanted = self.desired(scope)
        stale = self._stale(wanted).subquery("stale")
        head_version = (
            select(LocalListHead.version)
            .where(LocalListHead.charging_group_id == stale.c.charging_group_id)
            .scalar_subquery()
        )
        insert: Any = postgresql.insert if self._is_postgres else sqlite.insert
        # Each column with its value, by name: the INSERT's column list and the SELECT cannot drift.
        values = {
            "charging_group_id": stale.c.charging_group_id,
            "id_tag": stale.c.id_tag,
            "organization_id": literal(self.organization_id, Uuid()),
            "listed": true(),
            "blocked": stale.c.blocked,
            "valid_from": stale.c.valid_from,
            "valid_until": stale.c.valid_until,
            "version": head_version,
        }
        # SQLite reads ON CONFLICT after a SELECT without WHERE as a join clause: hence the WHERE.
        statement = insert(LocalListEntry).from_select(list(values), select(*values.values()).where(true()))
        changed = ("listed", "blocked", "valid_from", "valid_until", "version")
        statement = statement.on_conflict_do_update(
            index_elements=["charging_group_id", "id_tag"],
            set_={name: statement.excluded[name] for name in changed},
        )
        await self.session.execute(statement)
        await self.session.execute(
            update(LocalListEntry)
            .where(self._gone(scope, wanted))
            .values(
                listed=false(),
                version=select(LocalListHead.version)
                .where(LocalListHead.charging_group_id == LocalListEntry.charging_group_id)
                .scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        )

    async def read(self, charging_group_id: uuid.UUID, since_version: int | None) -> list[ListRow] | None:
        """The charging group's access control and list version, and its entries: the listed ones
        (since_version None), or every entry changed after `since_version`, tombstones included.
        One statement, so the version and the entries come from one snapshot. None: no such
        charging group in the organization. The first row carries the group's facts; entry
        columns are None when there is no entry."""
        entry = LocalListEntry
        on_entry = and_(
            entry.charging_group_id == ChargingGroup.id,
            entry.listed == true() if since_version is None else entry.version > since_version,
        )
        statement = (
            select(ChargingGroup.access_control, LocalListHead.version, *ENTRY_COLUMNS)  # ListRow's order
            .select_from(ChargingGroup)
            .outerjoin(LocalListHead, LocalListHead.charging_group_id == ChargingGroup.id)
            .outerjoin(entry, on_entry)
            .where(
                ChargingGroup.id == charging_group_id,
                ChargingGroup.organization_id == self.organization_id,
            )
        )
        # Sorted here, not in SQL: an ORDER BY id_tag lets SQLite walk the whole list along the
        # primary key instead of the (charging_group_id, version) range of a differential.
        rows = [ListRow._make(values) for values in (await self.session.execute(statement)).all()]
        return sorted(rows, key=lambda row: row.id_tag or "") or None
