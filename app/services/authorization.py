"""May this card charge at this connector? The hot path: one read, one pure decision."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import NotFound, Unauthenticated
from app.repositories import authorization as repository
from app.repositories.authorization import AuthorizationFacts, ConnectorRef
from app.schemas.authorization import AuthorizeRequest, ConnectorSelector
from app.schemas.cards import normalize_uid
from app.services import policy
from app.services.api_keys import parse_prefix, verified_context
from app.services.context import RequestContext


def connector_ref(selector: ConnectorSelector) -> ConnectorRef:
    return ConnectorRef(
        connector_id=selector.connector_id,
        evse_id=selector.evse_id,
        charge_point_identity=selector.charge_point_identity,
        connector_number=selector.connector_number,
    )


def token_uid(id_token: str) -> str:
    """Backends send tokens as they read them; a token that is no valid UID matches no card."""
    try:
        return normalize_uid(id_token)
    except ValueError:
        return id_token


async def read_facts(
    session: AsyncSession, ctx: RequestContext, id_token: str, ref: ConnectorRef, now: datetime
) -> AuthorizationFacts:
    """The facts at `now` inside a transaction (session start after the group lock; explain)."""
    row = await repository.read_facts(session, ctx.organization_id, token_uid(id_token), ref, now)
    if row is None:
        raise NotFound("No such connector in this organization.", reason="unknown_connector")
    return row


async def authenticate_and_read_facts(
    db: Database,
    raw_key: str | None,
    request_id: str | None,
    request: AuthorizeRequest | None,
    now: datetime,
) -> tuple[RequestContext, AuthorizationFacts | None]:
    """The caller and the facts in one round trip, outside any transaction: each call sees what
    is committed at that moment, so a card blocked a millisecond ago is refused now, on every
    instance. Facts are None when the connector is not in the caller's organization, or when
    there is no valid request to read them for (then only the key is checked)."""
    prefix = parse_prefix(raw_key) if raw_key else None
    found = None
    if prefix is not None:
        uid = token_uid(request.id_token) if request is not None else None
        ref = connector_ref(request) if request is not None else None
        found = await repository.read_key_and_facts(db, prefix, uid, ref, now)
    if found is None:
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    key, facts = found
    ctx = verified_context(
        raw_key, key.key_hash, key.revoked_at, key.organization_id, key.key_id, key.name, key.role, request_id
    )
    return ctx, facts


def decide_at(facts: AuthorizationFacts, now: datetime, cache_seconds: int) -> policy.Decision:
    return policy.decide(facts, now, cache_seconds)
