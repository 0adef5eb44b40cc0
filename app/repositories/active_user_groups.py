import uuid
from collections.abc import Sequence

from sqlalchemy import exists, func, or_, select

from app.enums import ActivationScope, UserGroupStatus
from app.models import Activation, Card, UserGroup
from app.pagination import PageRequest
from app.repositories.base import Repository, paginate


class ActiveUserGroupRepository(Repository[UserGroup]):
    model = UserGroup

    async def on_charging_group(
        self, charging_group_id: uuid.UUID, page: PageRequest
    ) -> tuple[Sequence[tuple[UserGroup, int]], bool]:
        """The organization's unarchived user groups active on the charging group (scope `all`, or
        `custom` with an activation there), newest first, each with its number of cards."""
        card_count = (
            select(func.count(Card.id))
            .where(Card.user_group_id == UserGroup.id)
            .correlate(UserGroup)
            .scalar_subquery()
        )
        activated = exists().where(
            Activation.user_group_id == UserGroup.id, Activation.charging_group_id == charging_group_id
        )
        statement = select(UserGroup, card_count.label("card_count")).where(
            UserGroup.organization_id == self.organization_id,
            UserGroup.status == UserGroupStatus.active,
            or_(UserGroup.activation_scope == ActivationScope.all, activated),
        )
        rows = (await self.session.execute(paginate(statement, UserGroup, page))).tuples().all()
        return [(group, int(cards)) for group, cards in rows[: page.limit]], len(rows) > page.limit
