"""Why may (or may not) this card charge here? The decision's facts, read as a session start reads
them, and every check of the decision table with its verdict (app/services/guest_rules.py)."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.cards import CardRepository
from app.schemas.authorization import ExplainRequest, ExplainResponse, QuotaRemaining, RuleCheck
from app.services import policy
from app.services.authorization import connector_ref, read_facts
from app.services.context import RequestContext
from app.services.entities import get_or_404


async def explain(
    session: AsyncSession, ctx: RequestContext, data: ExplainRequest, cache_seconds: int
) -> ExplainResponse:
    """Read-only. The quotas count the sessions of the period holding `at` that started by then;
    the concurrent sessions are the card's active sessions as they are now."""
    at = data.at or datetime.now(UTC)
    id_token = data.id_token
    if data.card_id is not None:
        id_token = (await get_or_404(CardRepository(session, ctx.organization_id), data.card_id)).uid
    assert id_token is not None
    facts = await read_facts(session, ctx, id_token, connector_ref(data), at)
    decision = policy.decide(facts, at, cache_seconds, explain=True)
    remaining = decision.remaining if decision.accepted else None
    return ExplainResponse(
        status=decision.status,
        ocpp16_status=decision.ocpp16_status,
        reason=decision.reason,
        connector_id=facts.connector_id,
        charging_group_id=facts.charging_group_id,
        user_group_id=decision.user_group_id,
        card_id=decision.card_id,
        cache_expires_at=decision.cache_expires_at,
        remaining=None if remaining is None else QuotaRemaining.model_validate(remaining),
        at=at,
        decided_by=decision.decided_by,
        rules=[
            RuleCheck(rule=c.rule, verdict=c.verdict, reason=c.reason, detail=c.detail)
            for c in decision.checks
        ],
    )
