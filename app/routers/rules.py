import uuid

from fastapi import APIRouter, Response, status

from app.errors import GroupArchived, NotFound, RulesNotSet
from app.problems import problem_responses
from app.routers.deps import Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.common import Page
from app.schemas.rules import RulesInput, RulesRead
from app.services import rules as service

router = APIRouter(route_class=ApiRoute, prefix="/user-groups/{user_group_id}/rules", tags=["guest-rules"])


@router.get("", response_model=RulesRead, responses=problem_responses(NotFound, RulesNotSet))
async def get_rules(user_group_id: uuid.UUID, ctx: Reader, session: Uow) -> RulesRead:
    """The guest rules in force (404 `rules-not-set` if none)."""
    return RulesRead.model_validate(await service.get_rules(session, ctx, user_group_id))


@router.put("", response_model=RulesRead, responses=problem_responses(NotFound, GroupArchived))
async def set_rules(user_group_id: uuid.UUID, body: RulesInput, ctx: Manager, session: Uow) -> RulesRead:
    """Replaces the whole rule set from now on (a rule left out is no longer applied); the previous
    set stays in the versions."""
    return RulesRead.model_validate(await service.set_rules(session, ctx, user_group_id, body))


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, RulesNotSet, GroupArchived),
)
async def remove_rules(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> Response:
    """From now on the group's cards are decided without guest rules."""
    await service.remove_rules(session, ctx, user_group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/versions", response_model=Page[RulesRead], responses=problem_responses(NotFound))
async def list_rule_versions(
    user_group_id: uuid.UUID, ctx: Reader, session: Uow, page: PageParams
) -> Page[RulesRead]:
    """Every rule set the group has had, newest first, with the period each was in force."""
    versions, more = await service.list_rule_versions(session, ctx, user_group_id, page)
    items = [RulesRead.model_validate(version) for version in versions]
    return Page(
        items=items, next_cursor=next_cursor(list(versions), more, lambda v: v.created_at, lambda v: v.id)
    )
