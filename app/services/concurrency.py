"""Optimistic concurrency: strong ETags and the If-Match / If-None-Match comparisons (RFC 9110)."""

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.idempotency import IdempotencyRepository
from app.services.context import RequestContext


def etag_of(representation: bytes) -> str:
    """A strong validator: it changes whenever a byte of the representation changes."""
    return '"' + hashlib.blake2b(representation, digest_size=16).hexdigest() + '"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match_allows(header: str, current_etag: str | None) -> bool:
    """Strong comparison: a weak tag (W/"...") never matches; `*` matches any current representation."""
    if current_etag is None:
        return False
    return any(tag == "*" or tag == current_etag for tag in _tags(header))


def if_none_match_hits(header: str, current_etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    return any(tag == "*" or tag.removeprefix("W/") == current_etag for tag in _tags(header))


async def lock_resource(session: AsyncSession, ctx: RequestContext, resource: str) -> None:
    """Held until the transaction ends, so that a conditional check and the write it guards are
    one step for every other conditional write to the same resource."""
    await IdempotencyRepository(session, ctx.organization_id).lock_resource(resource)
