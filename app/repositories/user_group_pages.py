"""The user-group list and the group page read in one statement: each group with its counts
(cards, sessions, charging groups and connectors of its activation, the organization's totals for
scope `all`) and its current tariff, as typed rows (Core, no ORM objects). Cards and sessions are
counted by the database as they are written (`user_group_counts`, one primary-key lookup per
group); the activation's counts are correlated subqueries on the groups of the page only, over the
activations' primary key. So a page costs the same whatever the size of the organization and of
its groups. They read on the driver, outside a transaction, from the replica when there is one
(`Reads`, app/db/reads.py)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from app.db.reads import Reads
from app.enums import ActivationScope, UserGroupStatus, UserGroupType
from app.models import (
    Activation,
    ChargingGroup,
    Organization,
    TariffVersion,
    UserGroup,
    UserGroupTally,
)
from app.models.base import utcnow
from app.pagination import PageRequest
from app.repositories.base import built_once, escape_like, page_values, paginate_bound
from app.repositories.tariffs import upcoming_id


class GroupRow(NamedTuple):
    """A group of the list or the page, with its counts and current tariff (NULLs: none)."""

    id: uuid.UUID
    name: str
    type: UserGroupType
    status: UserGroupStatus
    activation_scope: ActivationScope
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    card_count: int
    session_count: int
    activated_charging_groups: int
    activated_connectors: int | None
    organization_charging_groups: int
    organization_connectors: int
    tariff_id: uuid.UUID | None
    currency: str | None
    price_per_kwh: Decimal | None
    session_fee: Decimal | None
    parking_fee_per_hour: Decimal | None
    parking_grace_minutes: int | None
    valid_from: datetime | None
    valid_until: datetime | None


def _count(*conditions: Any) -> Any:
    return select(func.count()).where(*conditions).scalar_subquery()


def _columns() -> tuple[Any, ...]:
    sources: dict[str, Any] = {
        **{name: getattr(UserGroup, name) for name in GroupRow._fields[:8]},
        "card_count": UserGroupTally.card_count,
        "session_count": UserGroupTally.session_count,
        "activated_charging_groups": _count(Activation.user_group_id == UserGroup.id),
        # Each activation's charging group by its primary key: as a join, PostgreSQL hashed every
        # charging group of the organization for each group of the page (400 rows each at the
        # bench's scale 0.2: 3 of the list's 4.6 ms), a cost growing with the infrastructure.
        "activated_connectors": select(
            func.sum(
                select(ChargingGroup.connector_count)
                .where(ChargingGroup.id == Activation.charging_group_id)
                .scalar_subquery()
            )
        )
        .where(Activation.user_group_id == UserGroup.id)
        .scalar_subquery(),
        "organization_charging_groups": select(Organization.charging_group_count)
        .where(Organization.id == UserGroup.organization_id)
        .scalar_subquery(),
        "organization_connectors": select(Organization.connector_count)
        .where(Organization.id == UserGroup.organization_id)
        .scalar_subquery(),
        "tariff_id": TariffVersion.id,
        **{name: getattr(TariffVersion, name) for name in GroupRow._fields[15:]},
    }
    return tuple(sources[name].label(name) for name in GroupRow._fields)


COLUMNS = _columns()


def _statement() -> Select[Any]:
    at = bindparam("page_at", type_=TariffVersion.valid_from.type)
    current_tariff = and_(
        TariffVersion.user_group_id == UserGroup.id,
        TariffVersion.valid_from <= at,
        or_(TariffVersion.valid_until.is_(None), TariffVersion.valid_until > at),
    )
    return (
        select(*COLUMNS)
        .select_from(
            UserGroup.__table__.outerjoin(TariffVersion, current_tariff).outerjoin(
                UserGroupTally, UserGroupTally.user_group_id == UserGroup.id
            )
        )
        .where(UserGroup.organization_id == bindparam("page_organization_id", type_=UserGroup.id.type))
    )


# Built once with bind parameters: building this statement and its cache key on every request was
# a good part of the group page's CPU. The page reuses the statement itself (its cache key is
# computed once); the list builds its filters and keyset on it once per shape (`built_once`).
STATEMENT = _statement()


class TariffRow(NamedTuple):
    """A tariff version as the page shows it (the upcoming one)."""

    id: uuid.UUID
    currency: str
    price_per_kwh: Decimal
    session_fee: Decimal | None
    parking_fee_per_hour: Decimal | None
    parking_grace_minutes: int | None
    valid_from: datetime
    valid_until: datetime | None


def _page_statement() -> Select[Any]:
    """One group with its upcoming tariff (NULLs: none) after the GroupRow columns."""
    upcoming = aliased(TariffVersion, name="upcoming_tariff")
    at = bindparam("page_at", type_=TariffVersion.valid_from.type)
    return (
        STATEMENT.add_columns(
            *(getattr(upcoming, name).label(f"upcoming_{name}") for name in TariffRow._fields)
        )
        .outerjoin(upcoming, upcoming.id == upcoming_id(UserGroup.id, at))
        .where(UserGroup.id == bindparam("page_user_group_id", type_=UserGroup.id.type))
    )


PAGE = _page_statement()
GROUP_ID = select(UserGroup.id).where(
    UserGroup.organization_id == bindparam("page_organization_id", type_=UserGroup.id.type),
    UserGroup.id == bindparam("page_user_group_id", type_=UserGroup.id.type),
)
GROUP_WIDTH = len(GroupRow._fields)


class UserGroupPageRepository:
    def __init__(self, reads: Reads, organization_id: uuid.UUID) -> None:
        self.reads = reads
        self.organization_id = organization_id

    async def search(
        self,
        page: PageRequest,
        status: UserGroupStatus | None,
        type_: UserGroupType | None,
        name_contains: str | None,
    ) -> tuple[list[GroupRow], bool]:
        def build() -> Select[Any]:
            statement = STATEMENT
            if status is not None:
                statement = statement.where(
                    UserGroup.status == bindparam("list_status", type_=UserGroup.status.type)
                )
            if type_ is not None:
                statement = statement.where(
                    UserGroup.type == bindparam("list_type", type_=UserGroup.type.type)
                )
            if name_contains:
                pattern = bindparam("list_name_pattern", type_=UserGroup.name_key.type)
                statement = statement.where(UserGroup.name_key.like(pattern, escape="\\"))
            return paginate_bound(statement, UserGroup, page.after is not None)

        shape = (
            "user_group_list",
            status is not None,
            type_ is not None,
            bool(name_contains),
            page.after is not None,
        )
        values = self._parameters() | page_values(page)
        values |= {"list_status": status, "list_type": type_}
        if name_contains:
            values["list_name_pattern"] = f"%{escape_like(name_contains.casefold())}%"
        rows = [GroupRow._make(row) for row in await self.reads.all(built_once(shape, build), values)]
        return rows[: page.limit], len(rows) > page.limit

    async def get(self, id_: uuid.UUID) -> tuple[GroupRow, TariffRow | None] | None:
        """The group (None: not in this organization) and its upcoming tariff: one statement."""
        found = await self.reads.first(PAGE, self._parameters() | {"page_user_group_id": id_})
        if found is None:
            return None
        group, upcoming = found[:GROUP_WIDTH], found[GROUP_WIDTH:]
        return GroupRow._make(group), None if upcoming[0] is None else TariffRow._make(upcoming)

    async def find_id(self, id_: uuid.UUID) -> uuid.UUID | None:
        """The group's id when it exists in this organization."""
        values = {"page_organization_id": self.organization_id, "page_user_group_id": id_}
        row = await self.reads.first(GROUP_ID, values)
        return None if row is None else id_

    def _parameters(self) -> dict[str, Any]:
        return {"page_organization_id": self.organization_id, "page_at": utcnow()}
