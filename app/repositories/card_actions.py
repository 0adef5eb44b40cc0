"""Statements of the bulk card actions: read the cards locked, change or delete them in chunks,
each returning the rows as written for the caller's one audit record."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, delete, func, or_, select, update

from app.models import Card
from app.models.base import AUDITED_BULK
from app.repositories.base import Repository

# Well below every database's limit of bound parameters in one statement.
CHUNK = 2000


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def card_search_condition(query: str) -> ColumnElement[bool]:
    """A card whose UID, label or printed number contains `query` (UIDs are stored upper case)."""
    pattern = f"%{_escape_like(query)}%".lower()
    return or_(
        Card.uid.like(f"%{_escape_like(query.upper())}%", escape="\\"),
        func.lower(Card.label).like(pattern, escape="\\"),
        func.lower(Card.printed_number).like(pattern, escape="\\"),
    )


class CardActionRepository(Repository[Card]):
    model = Card

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> list[RowMapping]:
        """The organization's cards among `ids` (any group), locked against concurrent changes."""
        found: list[RowMapping] = []
        for start in range(0, len(ids), CHUNK):
            statement = (
                select(*Card.__table__.columns)
                .where(Card.organization_id == self.organization_id, Card.id.in_(ids[start : start + CHUNK]))
                .with_for_update()
            )
            found += (await self.session.execute(statement)).mappings().all()
        return found

    async def matching(
        self,
        user_group_id: uuid.UUID,
        query: str | None,
        blocked: bool | None,
        valid_until_before: datetime | None,
        limit: int,
    ) -> list[RowMapping]:
        """The group's cards matching every given condition, at most `limit` (locked)."""
        conditions = [Card.organization_id == self.organization_id, Card.user_group_id == user_group_id]
        if query:
            conditions.append(card_search_condition(query))
        if blocked is not None:
            conditions.append(Card.blocked == blocked)
        if valid_until_before is not None:
            conditions.append(and_(Card.valid_until.is_not(None), Card.valid_until < valid_until_before))
        statement = (
            select(*Card.__table__.columns)
            .where(*conditions)
            .order_by(Card.created_at, Card.id)
            .limit(limit)
            .with_for_update()
        )
        return list((await self.session.execute(statement)).mappings().all())

    async def update_many(
        self, ids: Sequence[uuid.UUID], values: dict[str, Any], now: datetime
    ) -> list[RowMapping]:
        """Sets `values` on the cards; each card's version moves on, as an ORM update would."""
        written: list[RowMapping] = []
        for start in range(0, len(ids), CHUNK):
            statement = (
                update(Card)
                .where(Card.organization_id == self.organization_id, Card.id.in_(ids[start : start + CHUNK]))
                .values(**values, updated_at=now, version=Card.version + 1)
                .returning(*Card.__table__.columns)
                .execution_options(synchronize_session=False, **{AUDITED_BULK: True})
            )
            written += (await self.session.execute(statement)).mappings().all()
        return written

    async def delete_many(self, ids: Sequence[uuid.UUID]) -> list[RowMapping]:
        removed: list[RowMapping] = []
        for start in range(0, len(ids), CHUNK):
            statement = (
                delete(Card)
                .where(Card.organization_id == self.organization_id, Card.id.in_(ids[start : start + CHUNK]))
                .returning(*Card.__table__.columns)
                .execution_options(synchronize_session=False, **{AUDITED_BULK: True})
            )
            removed += (await self.session.execute(statement)).mappings().all()
        return removed
