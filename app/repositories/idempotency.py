from sqlalchemy import select

from app.models import IdempotencyRecord
from app.repositories.base import Repository


class IdempotencyRepository(Repository[IdempotencyRecord]):
    model = IdempotencyRecord

    async def find(self, key: str) -> IdempotencyRecord | None:
        statement = select(IdempotencyRecord).where(
            IdempotencyRecord.organization_id == self.organization_id,
            IdempotencyRecord.key == key,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
