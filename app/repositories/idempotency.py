"""Idempotency records and the per-resource write lock: the statements behind app/routers/route.py."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyRecord
from app.models.base import utcnow
from app.repositories.base import Repository

LOCK_NOT_AVAILABLE = "55P03"


class ClaimTimeout(Exception):
    """Another transaction holds the same key and did not finish within the wait."""


class IdempotencyRepository(Repository[IdempotencyRecord]):
    model = IdempotencyRecord

    @property
    def is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def claim(self, key: str, fingerprint: str, expires_at: datetime, wait: timedelta) -> bool:
        """Inserts the claim; False when the key exists. On PostgreSQL a concurrent claim of the same
        key that is not committed yet makes this wait (at most `wait`) until it commits or rolls back."""
        dialect_insert: Any = postgresql.insert if self.is_postgres else sqlite.insert
        statement = (
            dialect_insert(IdempotencyRecord)
            .values(
                id=uuid.uuid4(),
                organization_id=self.organization_id,
                key=key,
                request_fingerprint=fingerprint,
                created_at=utcnow(),
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["organization_id", "key"])
            .returning(IdempotencyRecord.id)
        )
        if not self.is_postgres:
            return (await self.session.execute(statement)).first() is not None
        await self.session.execute(
            text("SELECT set_config('lock_timeout', :timeout, true)"),
            {"timeout": f"{int(wait.total_seconds() * 1000)}ms"},
        )
        try:
            inserted = (await self.session.execute(statement)).first() is not None
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise ClaimTimeout from error
            raise
        await self.session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
        return inserted

    async def find(self, key: str) -> IdempotencyRecord | None:
        statement = self.base_statement().where(IdempotencyRecord.key == key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def forget(self, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.organization_id == self.organization_id, IdempotencyRecord.key == key
            )
        )

    async def complete(self, key: str, status_code: int, body: Any, headers: dict[str, str]) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.organization_id == self.organization_id, IdempotencyRecord.key == key)
            .values(status_code=status_code, response_body=body, response_headers=headers)
        )

    async def lock_resource(self, resource: str) -> None:
        """Serializes conditional writes to one resource until the transaction ends. SQLite needs
        nothing: its write transactions are serialized already (BEGIN IMMEDIATE)."""
        if self.is_postgres:
            key = func.hashtextextended(f"{self.organization_id}:{resource}", 0)
            await self.session.execute(select(func.pg_advisory_xact_lock(key)))


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Deletes every record past its expiry, in all organizations (housekeeping, not a request)."""
    result: Any = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
    return int(result.rowcount or 0)
