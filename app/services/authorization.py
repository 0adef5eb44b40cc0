"""May this card charge at this connector? The hot path: one read, one pure decision."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.repositories.sessions import ConnectorRef, SessionRepository
from app.schemas.sessions import ConnectorSelector
from app.schemas.user_groups import normalize_uid
from app.services import policy
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
    row = await SessionRepository(session, ctx.organization_id).authorization_facts(token_uid(id_token), ref)
    if row is None:
        raise NotFound("No such connector in this organization.", reason="unknown_connector")
    return facts_from_row(row), row


async def authorize(
    session: AsyncSession, ctx: RequestContext, id_token: str, selector: ConnectorSelector, cache_seconds: int
) -> tuple[policy.Decision, policy.AuthorizationFacts]:
    facts, _ = await read_facts(session, ctx, id_token, connector_ref(selector))
    return policy.decide(facts, datetime.now(UTC), cache_seconds), facts
