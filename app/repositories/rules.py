"""Guest-rule versions of a user group (the one with `valid_until` NULL is in force)."""

import uuid
from collections.abc import Sequence

from app.models import UserGroupRules
from app.pagination import PageRequest
from app.repositories.base import Repository


class RulesRepository(Repository[UserGroupRules]):
    model = UserGroupRules

    async def current(self, user_group_id: uuid.UUID) -> UserGroupRules | None:
        statement = self.base_statement().where(
            UserGroupRules.user_group_id == user_group_id, UserGroupRules.valid_until.is_(None)
        )
        found: UserGroupRules | None = (await self.session.execute(statement)).scalar_one_or_none()
        return found

    async def versions(
        self, user_group_id: uuid.UUID, page: PageRequest
    ) -> tuple[Sequence[UserGroupRules], bool]:
        statement = self.base_statement().where(UserGroupRules.user_group_id == user_group_id)
        return await self.page(statement, page)
