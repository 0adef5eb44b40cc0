import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, RowMapping, Select, and_, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, UserGroupStatus, UserGroupType
from app.models import (
    Activation,
    Card,
    ChargePoint,
    ChargingGroup,
    ChargingSession,
    Connector,
    Organization,
    TariffVersion,
    UserGroup,
)
from app.models.base import AUDITED_BULK, utcnow
from app.pagination import PageRequest
from app.repositories.base import Repository, paginate
from app.repositories.card_actions import card_search_condition


@dataclass(frozen=True)
class ActivationTotals:
    charging_groups: int
    connectors: int


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UserGroupRepository(Repository[UserGroup]):
    model = UserGroup

    async def name_taken(self, name_key: str, exclude_id: uuid.UUID | None = None) -> UserGroup | None:
        statement = self.base_statement().where(UserGroup.name_key == name_key)
        if exclude_id is not None:
            statement = statement.where(UserGroup.id != exclude_id)
        found: UserGroup | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def get_for_share(self, id_: uuid.UUID) -> UserGroup | None:
        """Locks the row against delete and archive (FOR SHARE) while a session starts."""
        statement = self.base_statement().where(UserGroup.id == id_).with_for_update(read=True)
        found: UserGroup | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def search(
        self,
        page: PageRequest,
        status: UserGroupStatus | None,
        type_: UserGroupType | None,
        name_contains: str | None,
    ) -> tuple[Sequence[UserGroup], bool]:
        statement = self.base_statement()
        if status is not None:
            statement = statement.where(UserGroup.status == status)
        if type_ is not None:
            statement = statement.where(UserGroup.type == type_)
        if name_contains:
            pattern = f"%{_escape_like(name_contains.casefold())}%"
            statement = statement.where(UserGroup.name_key.like(pattern, escape="\\"))
        return await self.page(statement, page)


class TariffRepository(Repository[TariffVersion]):
    model = TariffVersion

    @staticmethod
    def _in_force(at: datetime) -> ColumnElement[bool]:
        return and_(
            TariffVersion.valid_from <= at,
            or_(TariffVersion.valid_until.is_(None), TariffVersion.valid_until > at),
        )

    async def current(self, user_group_id: uuid.UUID) -> TariffVersion | None:
        """The version in force now (a scheduled one is not, until it starts)."""
        statement = self.base_statement().where(
            TariffVersion.user_group_id == user_group_id, self._in_force(utcnow())
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def upcoming(self, user_group_id: uuid.UUID) -> TariffVersion | None:
        """The version that starts later (at most one: a new schedule replaces it)."""
        statement = (
            self.base_statement()
            .where(TariffVersion.user_group_id == user_group_id, TariffVersion.valid_from > utcnow())
            .order_by(TariffVersion.valid_from)
            .limit(1)
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def ending_at(self, user_group_id: uuid.UUID, at: datetime) -> TariffVersion | None:
        """The version that hands over to one starting at `at`."""
        statement = self.base_statement().where(
            TariffVersion.user_group_id == user_group_id, TariffVersion.valid_until == at
        )
        found: TariffVersion | None = (await self.session.execute(statement)).scalars().first()
        return found

    async def in_use(self, version_id: uuid.UUID) -> bool:
        statement = select(ChargingSession.id).where(ChargingSession.tariff_version_id == version_id).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def current_for_groups(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TariffVersion]:
        if not ids:
            return {}
        statement = self.base_statement().where(
            TariffVersion.user_group_id.in_(ids), self._in_force(utcnow())
        )
        rows = (await self.session.execute(statement)).scalars().all()
        return {row.user_group_id: row for row in rows}

    async def versions(
        self, user_group_id: uuid.UUID, page: PageRequest
    ) -> tuple[Sequence[TariffVersion], bool]:
        statement = self.base_statement().where(TariffVersion.user_group_id == user_group_id)
        return await self.page(statement, page)


class ActivationRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    def _charging_groups(self) -> Select[ChargingGroup, int]:
        connectors = (
            select(func.count(Connector.id))
            .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
            .where(ChargePoint.charging_group_id == ChargingGroup.id)
            .correlate(ChargingGroup)
            .scalar_subquery()
        )
        return select(ChargingGroup, connectors.label("connector_count")).where(
            ChargingGroup.organization_id == self.organization_id
        )

    async def charging_group_ids(self, user_group_id: uuid.UUID) -> set[uuid.UUID]:
        statement = select(Activation.charging_group_id).where(Activation.user_group_id == user_group_id)
        return set((await self.session.execute(statement)).scalars().all())

    async def all_charging_group_ids(self) -> set[uuid.UUID]:
        statement = select(ChargingGroup.id).where(ChargingGroup.organization_id == self.organization_id)
        return set((await self.session.execute(statement)).scalars().all())

    async def charging_groups_with_connectors(
        self, ids: Iterable[uuid.UUID] | None
    ) -> Sequence[tuple[ChargingGroup, int]]:
        """The given charging groups of the organization (all when `ids` is None), by name."""
        statement = self._charging_groups()
        if ids is not None:
            statement = statement.where(ChargingGroup.id.in_(list(ids)))
        rows = (await self.session.execute(statement.order_by(ChargingGroup.name))).all()
        return [(row[0], row[1]) for row in rows]

    async def page_active(
        self, user_group_id: uuid.UUID, scope: ActivationScope, page: PageRequest
    ) -> tuple[Sequence[tuple[ChargingGroup, int]], bool]:
        statement = self._charging_groups()
        if scope == ActivationScope.custom:
            statement = statement.join(
                Activation,
                (Activation.charging_group_id == ChargingGroup.id)
                & (Activation.user_group_id == user_group_id),
            )
        rows = (await self.session.execute(paginate(statement, ChargingGroup, page))).all()
        return [(row[0], row[1]) for row in rows[: page.limit]], len(rows) > page.limit

    async def organization_totals(self) -> ActivationTotals:
        """The whole infrastructure, from the organization's counters: constant time."""
        statement = select(Organization.charging_group_count, Organization.connector_count).where(
            Organization.id == self.organization_id
        )
        row = (await self.session.execute(statement)).one()
        return ActivationTotals(int(row[0]), int(row[1]))

    async def custom_totals(self, user_group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ActivationTotals]:
        """Charging groups and connectors per user group, from its activations (one query)."""
        if not user_group_ids:
            return {}
        statement = (
            select(Activation.user_group_id, func.count(), func.sum(ChargingGroup.connector_count))
            .join(ChargingGroup, ChargingGroup.id == Activation.charging_group_id)
            .where(Activation.user_group_id.in_(user_group_ids))
            .group_by(Activation.user_group_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: ActivationTotals(int(row[1]), int(row[2] or 0)) for row in rows}

    def add(self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID]) -> None:
        self.session.add_all(
            Activation(
                user_group_id=user_group_id,
                charging_group_id=charging_group_id,
                organization_id=self.organization_id,
            )
            for charging_group_id in charging_group_ids
        )

    async def remove(self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID] | None) -> None:
        """Removes the given activations of the group (all when `charging_group_ids` is None)."""
        statement = delete(Activation).where(Activation.user_group_id == user_group_id)
        if charging_group_ids is not None:
            statement = statement.where(Activation.charging_group_id.in_(list(charging_group_ids)))
        await self.session.execute(statement)


class CardRepository(Repository[Card]):
    model = Card

    async def by_uid(self, uid: str) -> Card | None:
        found: Card | None = (
            await self.session.execute(self.base_statement().where(Card.uid == uid))
        ).scalar_one_or_none()
        return found

    async def holders(self, uids: Sequence[str]) -> dict[str, tuple[uuid.UUID, str]]:
        """For the UIDs that exist: uid -> (user group id, user group name). Chunked for large lists."""
        holders: dict[str, tuple[uuid.UUID, str]] = {}
        for start in range(0, len(uids), 5000):
            chunk = list(uids[start : start + 5000])
            statement = (
                select(Card.uid, UserGroup.id, UserGroup.name)
                .join(UserGroup, UserGroup.id == Card.user_group_id)
                .where(Card.organization_id == self.organization_id, Card.uid.in_(chunk))
            )
            for uid, group_id, group_name in (await self.session.execute(statement)).all():
                holders[uid] = (group_id, group_name)
        return holders

    async def search(
        self, page: PageRequest, user_group_id: uuid.UUID | None, query: str | None
    ) -> tuple[Sequence[Card], bool]:
        statement = self.base_statement()
        if user_group_id is not None:
            statement = statement.where(Card.user_group_id == user_group_id)
        if query:
            statement = statement.where(card_search_condition(query))
        return await self.page(statement, page)

    async def count_by_group(self, user_group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not user_group_ids:
            return {}
        statement = (
            select(Card.user_group_id, func.count(Card.id))
            .where(Card.user_group_id.in_(user_group_ids))
            .group_by(Card.user_group_id)
        )
        return {row[0]: int(row[1]) for row in (await self.session.execute(statement)).all()}

    async def delete_for_group(self, user_group_id: uuid.UUID) -> Sequence[RowMapping]:
        """Deletes the group's cards; returns their rows, for the record of the group's deletion."""
        statement = (
            delete(Card)
            .where(Card.user_group_id == user_group_id)
            .returning(*Card.__table__.columns)
            .execution_options(**{AUDITED_BULK: True})
        )
        return (await self.session.execute(statement)).mappings().all()

    async def insert_many(self, rows: list[dict[str, object]], now: datetime) -> list[RowMapping]:
        """Inserts the cards; returns the rows as written, for the caller's audit record."""
        for row in rows:
            row.update(
                id=uuid.uuid4(),
                organization_id=self.organization_id,
                created_at=now,
                updated_at=now,
                version=1,
            )
        statement = (
            insert(Card)
            .returning(*Card.__table__.columns, sort_by_parameter_order=True)
            .execution_options(**{AUDITED_BULK: True})
        )
        written: list[RowMapping] = []
        for start in range(0, len(rows), 2000):
            written += (await self.session.execute(statement, rows[start : start + 2000])).mappings().all()
        return written
