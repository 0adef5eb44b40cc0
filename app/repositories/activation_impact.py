"""Counts for an activation change's preview: whose cards charge where (app/services/activation_impact.py)."""

import uuid

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import ActivationScope, UserGroupStatus
from app.models import Activation, Card, UserGroup


class ActivationImpactRepository:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def card_count(self, user_group_id: uuid.UUID | None = None) -> int:
        """The organization's cards, or one group's."""
        statement = select(func.count(Card.id)).where(Card.organization_id == self.organization_id)
        if user_group_id is not None:
            statement = statement.where(Card.user_group_id == user_group_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def cards_of_others_active_at(self, user_group_id: uuid.UUID, charging_group_id: uuid.UUID) -> int:
        """Cards of the other unarchived user groups active on the charging group."""
        active_here = or_(
            UserGroup.activation_scope == ActivationScope.all,
            exists().where(
                Activation.user_group_id == UserGroup.id, Activation.charging_group_id == charging_group_id
            ),
        )
        statement = (
            select(func.count(Card.id))
            .join(UserGroup, UserGroup.id == Card.user_group_id)
            .where(
                Card.organization_id == self.organization_id,
                UserGroup.id != user_group_id,
                UserGroup.status == UserGroupStatus.active,
                active_here,
            )
        )
        return int((await self.session.execute(statement)).scalar_one())
