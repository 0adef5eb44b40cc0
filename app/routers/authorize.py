from fastapi import APIRouter, Request

from app.errors import NotFound
from app.metrics import AUTHORIZATION_DECISIONS, AUTHORIZATION_REFUSALS
from app.problems import problem_responses
from app.routers.deps import Integration, Uow
from app.schemas.sessions import AuthorizeRequest, AuthorizeResponse
from app.services import authorization as service

router = APIRouter(tags=["authorization"])


@router.post("/authorize", response_model=AuthorizeResponse, responses=problem_responses(NotFound))
async def authorize_card(
    body: AuthorizeRequest, ctx: Integration, session: Uow, request: Request
) -> AuthorizeResponse:
    """May this card charge at this connector? Answers with the OCPP 2.0.1 status (and the OCPP 1.6
    one), the reason, and until when the answer may be cached. An unknown connector is a 404."""
    cache_seconds = request.app.state.settings.authorization_cache_seconds
    decision, facts = await service.authorize(session, ctx, body.id_token, body, cache_seconds)
    AUTHORIZATION_DECISIONS.labels(decision.status.value).inc()
    if not decision.accepted:
        AUTHORIZATION_REFUSALS.labels(decision.reason).inc()
    return AuthorizeResponse(
        status=decision.status,
        ocpp16_status=decision.ocpp16_status,
        reason=decision.reason,
        connector_id=facts.connector_id,
        charging_group_id=facts.charging_group_id,
        user_group_id=decision.user_group_id,
        card_id=decision.card_id,
        cache_expires_at=decision.cache_expires_at,
    )
