"""Organizations and API keys: creation, authentication, revocation."""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.enums import AuditAction, Role
from app.errors import AlreadyExists, Unauthenticated
from app.models import ApiKey, Organization
from app.pagination import PageRequest
from app.repositories.api_keys import (
    ApiKeyRepository,
    find_key_by_prefix,
    find_organization_by_name,
)
from app.repositories.authorization import read_key
from app.services import audit
from app.services.context import RequestContext
from app.services.entities import get_or_404

KEY_SCHEME = "ugs"
PREFIX_BYTES = 6  # 12 hex chars: shown in lists so people can tell keys apart


def hash_key(raw_key: str) -> str:
    # The key carries 256 random bits, so a plain SHA-256 is as strong as a slow hash here
    # and keeps authentication cheap on the hot path.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    prefix = secrets.token_hex(PREFIX_BYTES)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


def parse_prefix(raw_key: str) -> str | None:
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != PREFIX_BYTES * 2:
        return None
    return parts[1]


async def authenticate(session: AsyncSession, raw_key: str | None, request_id: str | None) -> RequestContext:
    prefix = parse_prefix(raw_key) if raw_key else None
    key = await find_key_by_prefix(session, prefix) if prefix else None
    if key is None:
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    return verified_context(
        raw_key, key.key_hash, key.revoked_at, key.organization_id, key.id, key.name, key.role, request_id
    )


async def authenticate_on_driver(db: Database, raw_key: str | None, request_id: str | None) -> RequestContext:
    """As `authenticate`, read on the driver outside any transaction (the authorize hot path's
    compiled key read): no ORM statement, and on SQLite no thread hop. Every request pays it."""
    prefix = parse_prefix(raw_key) if raw_key else None
    key = await read_key(db, prefix) if prefix else None
    if key is None:
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    return verified_context(
        raw_key, key.key_hash, key.revoked_at, key.organization_id, key.key_id, key.name, key.role, request_id
    )


def verified_context(
    raw_key: str | None,
    key_hash: str,
    revoked_at: datetime | None,
    organization_id: uuid.UUID,
    key_id: uuid.UUID,
    name: str,
    role: Role,
    request_id: str | None,
) -> RequestContext:
    """The caller, once the key is shown to be the stored one and not revoked."""
    if raw_key is None or revoked_at is not None or not hmac.compare_digest(key_hash, hash_key(raw_key)):
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    return RequestContext(
        organization_id=organization_id, api_key_id=key_id, actor_name=name, role=role, request_id=request_id
    )


async def create_organization(session: AsyncSession, name: str) -> Organization:
    if await find_organization_by_name(session, name) is not None:
        raise AlreadyExists(f"An organization named {name!r} already exists.")
    organization = Organization(name=name)
    session.add(organization)
    await session.flush()
    return organization


async def create_api_key(
    session: AsyncSession, ctx: RequestContext, name: str, role: Role
) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which is shown this once and never again."""
    prefix, raw_key = generate_key()
    key = ApiKey(
        organization_id=ctx.organization_id,
        name=name,
        role=role,
        prefix=prefix,
        key_hash=hash_key(raw_key),
    )
    ApiKeyRepository(session, ctx.organization_id).add(key)
    await audit.record(session, ctx, AuditAction.api_key_created, key)
    return key, raw_key


async def list_api_keys(
    session: AsyncSession, ctx: RequestContext, page: PageRequest
) -> tuple[Sequence[ApiKey], bool]:
    return await ApiKeyRepository(session, ctx.organization_id).list_page(page)


async def get_api_key(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    key = await get_or_404(ApiKeyRepository(session, ctx.organization_id), key_id)
    return key


async def revoke_api_key(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    key = await get_or_404(ApiKeyRepository(session, ctx.organization_id), key_id, for_update=True)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        context = {"name": key.name, "prefix": key.prefix}
        await audit.record(session, ctx, AuditAction.api_key_revoked, key, old=context, new=context)
    return key


def system_context(organization_id: uuid.UUID, actor_name: str = "cli") -> RequestContext:
    """For the CLI and demo data: changes are audited as made by the operator at the console."""
    return RequestContext(
        organization_id=organization_id,
        api_key_id=None,
        actor_name=actor_name,
        role=Role.admin,
        request_id=None,
    )
