import uuid
from collections.abc import AsyncIterator

from sqlalchemy import RowMapping, select

from app.models import Card
from app.repositories.base import Repository
from app.repositories.card_actions import card_search_condition


class CardExportRepository(Repository[Card]):
    model = Card

    async def stream(
        self, user_group_id: uuid.UUID | None, query: str | None, blocked: bool | None
    ) -> AsyncIterator[RowMapping]:
        """Every matching card, oldest first, in batches through a server-side cursor."""
        statement = select(*Card.__table__.columns).where(Card.organization_id == self.organization_id)
        if user_group_id is not None:
            statement = statement.where(Card.user_group_id == user_group_id)
        if query:
            statement = statement.where(card_search_condition(query))
        if blocked is not None:
            statement = statement.where(Card.blocked == blocked)
        statement = statement.order_by(Card.created_at, Card.id).execution_options(yield_per=1000)
        result = await self.session.stream(statement)
        async for row in result.mappings():
            yield row
