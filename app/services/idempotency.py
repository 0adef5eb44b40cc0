"""Idempotency-Key: claim a key for a change, remember its response, replay it to a retry.

The claim, the change and the remembered response share one transaction, so a key is taken
exactly when its change committed; a retry after a timeout finds the response, and a failed
request (4xx, 5xx, crash) leaves the key free for the retry. A concurrent duplicate waits for the
first request's transaction (PostgreSQL: on the unique index; SQLite: writes are serialized)
and then replays it, or gets 409 `idempotency-in-progress` when that takes longer than the wait.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyInProgress, IdempotencyKeyReused
from app.models.base import utcnow
from app.repositories.idempotency import ClaimTimeout, IdempotencyRepository, purge_expired
from app.services.context import RequestContext

RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    headers: dict[str, str]


async def claim(
    session: AsyncSession, ctx: RequestContext, key: str, fingerprint: str, ttl: timedelta, wait: timedelta
) -> StoredResponse | None:
    """None: this request owns the key now. Otherwise the first response, to replay."""
    repository = IdempotencyRepository(session, ctx.organization_id)
    now = utcnow()
    for _attempt in range(2):
        try:
            if await repository.claim(key, fingerprint, now + ttl, wait):
                return None
        except ClaimTimeout as error:
            raise _in_progress() from error
        record = await repository.find(key)
        if record is None:
            continue  # the other request rolled back between our insert and our read
        if record.expires_at <= now:
            await repository.forget(key)
            continue
        if record.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request; use a new key."
            )
        if record.status_code is None or record.response_headers is None:
            raise _in_progress()
        return StoredResponse(record.status_code, record.response_body, dict(record.response_headers))
    raise _in_progress()


def _in_progress() -> IdempotencyInProgress:
    return IdempotencyInProgress(retry_after=RETRY_AFTER_SECONDS)


async def remember(session: AsyncSession, ctx: RequestContext, key: str, response: StoredResponse) -> None:
    await IdempotencyRepository(session, ctx.organization_id).complete(
        key, response.status_code, response.body, response.headers
    )


async def purge(session: AsyncSession) -> int:
    return await purge_expired(session, utcnow())
