"""May this card charge at this connector? The hot path: one read, one pure decision."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, DriverStatement
from app.errors import NotFound, Unauthenticated
from app.repositories.authorization import HOT_PATH, KEY_ONLY, ConnectorRef
from app.repositories.sessions import SessionRepository
from app.schemas.sessions import AuthorizeRequest, ConnectorSelector
from app.schemas.user_groups import normalize_uid
from app.services import policy
from app.services.api_keys import parse_prefix, verified_context
from app.services.context import RequestContext

KEY_WIDTH = 6  # the hot-path row starts with the key's columns, then the facts


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


def facts_from_row(row: Any) -> policy.AuthorizationFacts:
    return policy.AuthorizationFacts(
        connector_id=row[0],
        charging_group_id=row[1],
        access_control=row[2],
        card_id=row[3],
        card_blocked=row[4],
        card_valid_from=row[5],
        card_valid_until=row[6],
        user_group_id=row[7],
        user_group_status=row[8],
        user_group_scope=row[9],
        active_on_charging_group=bool(row[10]),
    )


async def read_facts(
    session: AsyncSession, ctx: RequestContext, id_token: str, ref: ConnectorRef
) -> tuple[policy.AuthorizationFacts, Any]:
    """The facts inside a transaction (session start, after the group lock)."""
    row = await SessionRepository(session, ctx.organization_id).authorization_facts(token_uid(id_token), ref)
    if row is None:
        raise NotFound("No such connector in this organization.", reason="unknown_connector")
    return facts_from_row(row), row


_compiled: dict[tuple[str, str], DriverStatement] = {}


async def authenticate_and_read_facts(
    db: Database,
    raw_key: str | None,
    request_id: str | None,
    request: AuthorizeRequest | None,
) -> tuple[RequestContext, policy.AuthorizationFacts | None]:
    """The caller and the facts in one round trip, outside any transaction: each call sees what
    is committed at that moment, so a card blocked a millisecond ago is refused now, on every
    instance. Facts are None when the connector is not in the caller's organization, or when
    there is no valid request to read them for (then only the key is checked)."""
    prefix = parse_prefix(raw_key) if raw_key else None
    if prefix is None:
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    if request is None:
        row = await db.fetch_first(_driver_statement(db, "key_only"), {"prefix": prefix})
    else:
        ref = connector_ref(request)
        values = {"prefix": prefix, "uid": token_uid(request.id_token), **ref.values}
        row = await db.fetch_first(_driver_statement(db, ref.form), values)
    if row is None:
        raise Unauthenticated("Send a valid API key as `Authorization: Bearer <key>`.")
    key_id, organization_id, role, key_hash, revoked_at, name = row[:KEY_WIDTH]
    ctx = verified_context(raw_key, key_hash, revoked_at, organization_id, key_id, name, role, request_id)
    facts = facts_from_row(row[KEY_WIDTH:]) if len(row) > KEY_WIDTH and row[KEY_WIDTH] is not None else None
    return ctx, facts


def _driver_statement(db: Database, form: str) -> DriverStatement:
    key = (db.engine.dialect.name, form)
    if key not in _compiled:
        _compiled[key] = DriverStatement(db, KEY_ONLY if form == "key_only" else HOT_PATH[form])
    return _compiled[key]


def decide_now(facts: policy.AuthorizationFacts, cache_seconds: int) -> policy.Decision:
    return policy.decide(facts, datetime.now(UTC), cache_seconds)
