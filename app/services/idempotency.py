from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyKeyReused
from app.models import IdempotencyRecord
from app.repositories.idempotency import IdempotencyRepository
from app.services.context import RequestContext


async def find(
    session: AsyncSession, ctx: RequestContext, key: str, fingerprint: str
) -> IdempotencyRecord | None:
    record = await IdempotencyRepository(session, ctx.organization_id).find(key)
    if record is not None and record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request; use a new key.")
    return record


async def remember(
    session: AsyncSession,
    ctx: RequestContext,
    key: str,
    fingerprint: str,
    status_code: int,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    IdempotencyRepository(session, ctx.organization_id).add(
        IdempotencyRecord(
            organization_id=ctx.organization_id,
            key=key,
            request_fingerprint=fingerprint,
            status_code=status_code,
            response_body=body,
            response_headers=headers,
        )
    )
    await session.flush()
