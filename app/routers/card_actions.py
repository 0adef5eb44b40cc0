import uuid
from datetime import UTC, datetime

from fastapi import APIRouter

from app.errors import CardActionRefused, GroupArchived, InvalidInput, NotFound
from app.problems import problem_responses
from app.routers.deps import Manager, Uow
from app.routers.route import ApiRoute
from app.schemas.card_actions import CardActionRequest, CardActionResult
from app.services import card_actions as service

router = APIRouter(route_class=ApiRoute, tags=["cards"])


@router.post(
    "/user-groups/{user_group_id}/cards/actions",
    response_model=CardActionResult,
    responses=problem_responses(NotFound, CardActionRefused, InvalidInput, GroupArchived),
)
async def apply_card_action(
    user_group_id: uuid.UUID, body: CardActionRequest, ctx: Manager, session: Uow
) -> CardActionResult:
    """Blocks, unblocks, sets or clears the validity of, moves or removes up to 10,000 of the
    group's cards, named by `card_ids` or by a `filter`; all or nothing: a 422 lists every refused
    card. One audit record lists the cards (a move: one in each group's history). Send an
    Idempotency-Key to retry safely."""
    count = await service.apply_card_action(session, ctx, user_group_id, body)
    return CardActionResult(
        action=body.action,
        user_group_id=user_group_id,
        count=count,
        target_user_group_id=body.target_user_group_id,
        done_at=datetime.now(UTC),
    )
