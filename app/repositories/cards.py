"""Cards (RFID UIDs) of the organization's user groups."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, delete, insert, or_, select, update

from app.models import (
    Card,
    UserGroup,
)
from app.models.base import AUDITED_BULK
from app.pagination import PageRequest
from app.repositories.base import Repository
from app.repositories.card_actions import card_search_condition


class CardRepository(Repository[Card]):
    model = Card

    async def by_uid(self, uid: str) -> Card | None:
        found: Card | None = (
            await self.session.execute(self.base_statement().where(Card.uid == uid))
        ).scalar_one_or_none()
        return found

    async def mark_first_use(self, card_id: uuid.UUID, at: datetime, expires_at: datetime | None) -> bool:
        """The card's first accepted session, in one conditional statement (race-free: of two
        starts at once, the earliest start wins, and a start reported late, offline, moves it back)."""
        statement = (
            update(Card)
            .where(
                Card.id == card_id,
                Card.organization_id == self.organization_id,
                or_(Card.first_used_at.is_(None), Card.first_used_at > at),
            )
            .values(first_used_at=at, expires_at=expires_at)
            # Internal to the audit: the session's start record names the first use.
            .execution_options(synchronize_session=False, **{AUDITED_BULK: True})
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

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
