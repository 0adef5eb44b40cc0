"""User groups."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from app.models import UserGroup, UserGroupTally
from app.repositories.base import Repository


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

    async def counts(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
        """Cards and sessions of each group, as the database keeps them (`UserGroupTally`)."""
        if not ids:
            return {}
        statement = (
            select(UserGroupTally.user_group_id, UserGroupTally.card_count, UserGroupTally.session_count)
            .join(UserGroup, UserGroup.id == UserGroupTally.user_group_id)
            .where(UserGroup.organization_id == self.organization_id, UserGroupTally.user_group_id.in_(ids))
        )
        rows = await self.session.execute(statement)
        return {group_id: (cards, sessions) for group_id, cards, sessions in rows}
