from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.enums import AuthorizationReason
from app.errors import NotFound
from app.metrics import AUTHORIZATION_DECISIONS, AUTHORIZATION_REFUSALS
from app.middleware import remember_caller
from app.problems import problem_responses
from app.routers.deps import BACKEND_ROLES, ensure_role
from app.routers.route import ApiRoute, side_effect_free
from app.schemas.authorization import AuthorizeRequest, AuthorizeResponse
from app.services import authorization as service
from app.services import unknown_cards
from app.services.policy import Decision

router = APIRouter(route_class=ApiRoute, tags=["authorization"])

# The hot path reads its key and body itself (no dependency resolution, one parse), so the
# document is told about both here.
OPENAPI = {
    "security": [{"HTTPBearer": []}],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuthorizeRequest"}}},
    },
}


def bearer_key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


@router.post(
    "/authorize",
    response_model=AuthorizeResponse,
    responses=problem_responses(NotFound),
    openapi_extra=OPENAPI,
)
@side_effect_free
async def authorize_card(request: Request) -> JSONResponse:
    """May this card charge at this connector? Answers with the OCPP 2.0.1 status (and the OCPP 1.6
    one), the reason, and until when the answer may be cached. An unknown connector is a 404.

    The hot path: the key and the decision's facts are read in one statement, outside any
    transaction. As everywhere, the key is checked (401/403) before the body (422)."""
    body: AuthorizeRequest | None = None
    errors: list[Any] = []
    try:
        body = AuthorizeRequest.model_validate_json(await request.body())
    except ValidationError as invalid:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in invalid.errors()]
    now = datetime.now(UTC)
    ctx, facts = await service.authenticate_and_read_facts(
        request.app.state.db, bearer_key(request), getattr(request.state, "request_id", None), body, now
    )
    ensure_role(remember_caller(request, ctx), BACKEND_ROLES)
    if errors:
        raise RequestValidationError(errors)
    if facts is None:
        raise NotFound("No such connector in this organization.", reason="unknown_connector")
    cache_seconds = request.app.state.settings.authorization_cache_seconds
    decision = service.decide_at(facts, now, cache_seconds)
    if decision.reason == AuthorizationReason.unknown_card and body is not None:
        # Learned by a learning mode (one write), or noted for the unknown-cards list (no wait).
        decision = await unknown_cards.after_unknown(
            request.app.state.db,
            request.app.state.unknown_cards,
            ctx,
            facts,
            body.id_token,
            decision,
            cache_seconds,
        )
    AUTHORIZATION_DECISIONS.labels(decision.status.value).inc()
    if not decision.accepted:
        AUTHORIZATION_REFUSALS.labels(decision.reason.value).inc()
    return JSONResponse(
        {
            "status": decision.status.value,
            "ocpp16_status": decision.ocpp16_status.value,
            "reason": decision.reason.value,
            "connector_id": str(facts.connector_id),
            "charging_group_id": str(facts.charging_group_id),
            "user_group_id": str(decision.user_group_id) if decision.user_group_id else None,
            "card_id": str(decision.card_id) if decision.card_id else None,
            "cache_expires_at": decision.cache_expires_at.isoformat().replace("+00:00", "Z"),
            "remaining": remaining_json(decision),
        }
    )


def remaining_json(decision: Decision) -> dict[str, Any] | None:
    """What the quotas leave, for an accepted answer under a quota (kWh as decimal strings)."""
    if decision.remaining is None or not decision.accepted:
        return None
    left = decision.remaining.items()
    return {key: format(v.normalize(), "f") if isinstance(v, Decimal) else v for key, v in left}
