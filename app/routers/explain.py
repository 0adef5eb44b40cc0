from fastapi import APIRouter, Request

from app.errors import NotFound
from app.problems import problem_responses
from app.routers.deps import DecisionReader, Uow
from app.routers.route import ApiRoute, side_effect_free
from app.schemas.authorization import ExplainRequest, ExplainResponse
from app.services import explain as service

router = APIRouter(route_class=ApiRoute, tags=["authorization"])


@router.post("/authorize/explain", response_model=ExplainResponse, responses=problem_responses(NotFound))
@side_effect_free
async def explain_authorization(
    body: ExplainRequest, ctx: DecisionReader, session: Uow, request: Request
) -> ExplainResponse:
    """Why a card may or may not charge at a connector, now or at `at`: every check of the decision
    table with its verdict (passed, failed, not_set) and the one that decided, with the answer
    `POST /v1/authorize` gives for the same facts. Changes nothing. An unknown connector or card id
    is a 404."""
    cache_seconds = request.app.state.settings.authorization_cache_seconds
    return await service.explain(session, ctx, body, cache_seconds)
