from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.errors import NotFound
from app.metrics import AUTHORIZATION_DECISIONS, AUTHORIZATION_REFUSALS
from app.problems import problem_responses
from app.routers.deps import BACKEND_ROLES, BearerKey, ensure_role
from app.schemas.sessions import AuthorizeRequest, AuthorizeResponse
from app.services import authorization as service
from app.services.context import RequestContext
from app.services.policy import AuthorizationFacts

router = APIRouter(tags=["authorization"])


REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuthorizeRequest"}}},
}


async def caller_and_facts(
    request: Request, credentials: BearerKey
) -> tuple[RequestContext, AuthorizationFacts | None]:
    """The body is parsed here, once, and the key and the decision's facts are read in one
    statement. The key is checked (401/403) before an invalid body is reported (422), as on every
    other operation."""
    body: AuthorizeRequest | None = None
    errors: list[Any] = []
    try:
        body = AuthorizeRequest.model_validate_json(await request.body())
    except ValidationError as invalid:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in invalid.errors()]
    ctx, facts = await service.authenticate_and_read_facts(
        request.app.state.db,
        credentials.credentials if credentials else None,
        getattr(request.state, "request_id", None),
        body,
    )
    ensure_role(ctx, BACKEND_ROLES)
    if errors:
        raise RequestValidationError(errors)
    return ctx, facts


@router.post(
    "/authorize",
    response_model=AuthorizeResponse,
    responses=problem_responses(NotFound),
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def authorize_card(
    request: Request,
    caller: Annotated[tuple[RequestContext, AuthorizationFacts | None], Depends(caller_and_facts)],
) -> JSONResponse:
    """May this card charge at this connector? Answers with the OCPP 2.0.1 status (and the OCPP 1.6
    one), the reason, and until when the answer may be cached. An unknown connector is a 404.

    The hot path: the key and the decision's facts are read in one statement, outside any
    transaction, and the answer is written without a second validation pass."""
    _, facts = caller
    if facts is None:
        raise NotFound("No such connector in this organization.", reason="unknown_connector")
    decision = service.decide_now(facts, request.app.state.settings.authorization_cache_seconds)
    AUTHORIZATION_DECISIONS.labels(decision.status.value).inc()
    if not decision.accepted:
        AUTHORIZATION_REFUSALS.labels(decision.reason).inc()
    return JSONResponse(
        {
            "status": decision.status.value,
            "ocpp16_status": decision.ocpp16_status,
            "reason": decision.reason,
            "connector_id": str(facts.connector_id),
            "charging_group_id": str(facts.charging_group_id),
            "user_group_id": str(decision.user_group_id) if decision.user_group_id else None,
            "card_id": str(decision.card_id) if decision.card_id else None,
            "cache_expires_at": decision.cache_expires_at.isoformat().replace("+00:00", "Z"),
        }
    )
