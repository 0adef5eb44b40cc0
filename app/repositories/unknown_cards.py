"""Unknown cards (refused UIDs, kept per charging group) and learning modes: statements scoped to
one organization, except the batch writer, which serves every organization a worker saw."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, delete, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Card, ChargingGroup, LearningMode, UnknownCard
from app.pagination import PageRequest


@dataclass(frozen=True)
class Sighting:
    """What the hot path noted: a UID refused as unknown at a charging group."""

    organization_id: uuid.UUID
    uid: str
    charging_group_id: uuid.UUID
    first_seen_at: datetime
    last_seen_at: datetime
    seen_count: int


async def upsert_sightings(session: AsyncSession, sightings: Sequence[Sighting]) -> None:
    """One upsert per (organization, uid, charging group): the count adds up, the last sighting
    wins. Charging groups deleted since are skipped."""
    wanted = {s.charging_group_id for s in sightings}
    existing = set(
        (await session.execute(select(ChargingGroup.id).where(ChargingGroup.id.in_(wanted)))).scalars()
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": s.organization_id,
            "uid": s.uid,
            "charging_group_id": s.charging_group_id,
            "created_at": s.first_seen_at,
            "last_seen_at": s.last_seen_at,
            "seen_count": s.seen_count,
        }
        # In key order: two workers writing overlapping batches lock the rows in the same order.
        for s in sorted(sightings, key=lambda s: (str(s.organization_id), s.uid, str(s.charging_group_id)))
        if s.charging_group_id in existing
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(UnknownCard)
    later = statement.excluded.last_seen_at > UnknownCard.last_seen_at
    statement = statement.on_conflict_do_update(
        index_elements=["organization_id", "uid", "charging_group_id"],
        set_={
            "seen_count": UnknownCard.seen_count + statement.excluded.seen_count,
            "last_seen_at": case((later, statement.excluded.last_seen_at), else_=UnknownCard.last_seen_at),
        },
    )
    await session.execute(statement, rows)


async def trim(session: AsyncSession, organization_ids: Iterable[uuid.UUID], keep: int) -> None:
    """Only the `keep` most recently seen entries of each organization stay."""
    for organization_id in organization_ids:
        beyond = (
            select(UnknownCard.id)
            .where(UnknownCard.organization_id == organization_id)
            .order_by(UnknownCard.last_seen_at.desc(), UnknownCard.id.desc())
            .offset(keep)
        )
        await session.execute(
            delete(UnknownCard).where(
                UnknownCard.organization_id == organization_id, UnknownCard.id.in_(beyond.scalar_subquery())
            )
        )


class UnknownCardRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def page(
        self, page: PageRequest, charging_group_id: uuid.UUID | None
    ) -> tuple[Sequence[tuple[UnknownCard, str]], bool]:
        """Most recently seen first, keyset on (last_seen_at, id)."""
        statement = self._with_names()
        if charging_group_id is not None:
            statement = statement.where(UnknownCard.charging_group_id == charging_group_id)
        if page.after is not None:
            seen, id_ = page.after.created_at, page.after.id
            statement = statement.where(
                or_(
                    UnknownCard.last_seen_at < seen,
                    and_(UnknownCard.last_seen_at == seen, UnknownCard.id < id_),
                )
            )
        statement = statement.order_by(UnknownCard.last_seen_at.desc(), UnknownCard.id.desc())
        rows = (await self.session.execute(statement.limit(page.limit + 1))).all()
        return [(card, name) for card, name in rows[: page.limit]], len(rows) > page.limit

    def _with_names(self) -> Select[UnknownCard, str]:
        """Entries with their charging group's name; a UID that became a card since is left out."""
        is_card = exists().where(
            Card.organization_id == UnknownCard.organization_id, Card.uid == UnknownCard.uid
        )
        return (
            select(UnknownCard, ChargingGroup.name)
            .join(ChargingGroup, ChargingGroup.id == UnknownCard.charging_group_id)
            .where(UnknownCard.organization_id == self.organization_id, ~is_card)
        )

    async def get(self, id_: uuid.UUID) -> tuple[UnknownCard, str] | None:
        rows = (await self.session.execute(self._with_names().where(UnknownCard.id == id_))).all()
        return next(((card, name) for card, name in rows), None)

    async def forget_uid(self, uid: str) -> None:
        """The UID is a card now: it is unknown nowhere."""
        await self.session.execute(
            delete(UnknownCard).where(
                UnknownCard.organization_id == self.organization_id, UnknownCard.uid == uid
            )
        )


class LearningModeRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def of_group(self, user_group_id: uuid.UUID) -> Sequence[tuple[LearningMode, str]]:
        statement = (
            select(LearningMode, ChargingGroup.name)
            .join(ChargingGroup, ChargingGroup.id == LearningMode.charging_group_id)
            .where(LearningMode.organization_id == self.organization_id)
            .where(LearningMode.user_group_id == user_group_id)
            .order_by(ChargingGroup.name, ChargingGroup.id)
        )
        return [(mode, name) for mode, name in (await self.session.execute(statement)).all()]

    async def running_elsewhere(
        self, user_group_id: uuid.UUID, charging_group_ids: Iterable[uuid.UUID], now: datetime
    ) -> Sequence[LearningMode]:
        """Other groups' learning modes still running on these charging groups."""
        statement = select(LearningMode).where(
            LearningMode.organization_id == self.organization_id,
            LearningMode.user_group_id != user_group_id,
            LearningMode.charging_group_id.in_(list(charging_group_ids)),
            LearningMode.ends_at > now,
        )
        return (await self.session.execute(statement)).scalars().all()

    async def running(self, user_group_id: uuid.UUID, charging_group_id: uuid.UUID, now: datetime) -> bool:
        statement = select(func.count()).where(
            LearningMode.organization_id == self.organization_id,
            LearningMode.user_group_id == user_group_id,
            LearningMode.charging_group_id == charging_group_id,
            LearningMode.ends_at > now,
        )
        return bool((await self.session.execute(statement)).scalar_one())

    async def replace(
        self,
        user_group_id: uuid.UUID,
        charging_group_ids: Iterable[uuid.UUID],
        started: datetime,
        ends: datetime,
    ) -> None:
        await self.clear(user_group_id)
        self.session.add_all(
            LearningMode(
                user_group_id=user_group_id,
                charging_group_id=charging_group_id,
                organization_id=self.organization_id,
                started_at=started,
                ends_at=ends,
            )
            for charging_group_id in charging_group_ids
        )

    async def clear(self, user_group_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(LearningMode).where(
                LearningMode.organization_id == self.organization_id,
                LearningMode.user_group_id == user_group_id,
            )
        )
