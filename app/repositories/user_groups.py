"""User groups."""

import uuid

from app.models import UserGroup
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
