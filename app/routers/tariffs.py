import uuid

from fastapi import APIRouter, Response, status

from app.errors import Conflict, GroupArchived, NotFound, TariffNotSet, UpcomingTariffNotSet
from app.problems import problem_responses
from app.routers.deps import Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.common import Page
from app.schemas.tariffs import ScheduledTariffInput, TariffRead
from app.services import tariffs as service

router = APIRouter(route_class=ApiRoute, prefix="/user-groups/{user_group_id}/tariff", tags=["tariffs"])


@router.get("", response_model=TariffRead, responses=problem_responses(NotFound, TariffNotSet))
async def get_tariff(user_group_id: uuid.UUID, ctx: Reader, session: Uow) -> TariffRead:
    """The tariff with which the group's sessions are documented (404 `tariff-not-set` if none)."""
    return TariffRead.model_validate(await service.get_tariff(session, ctx, user_group_id))


@router.put("", response_model=TariffRead, responses=problem_responses(NotFound, GroupArchived, Conflict))
async def set_tariff(
    user_group_id: uuid.UUID, body: ScheduledTariffInput, ctx: Manager, session: Uow
) -> TariffRead:
    """Sets a new tariff version; sessions already started keep the version they started with. With a
    future `valid_from` the version is scheduled (upcoming): sessions starting from then on take it;
    a version scheduled before is replaced."""
    return TariffRead.model_validate(await service.set_tariff(session, ctx, user_group_id, body))


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, TariffNotSet, GroupArchived),
)
async def remove_tariff(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> Response:
    """Sessions starting from now on are documented without a cost."""
    await service.remove_tariff(session, ctx, user_group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/upcoming", response_model=TariffRead, responses=problem_responses(NotFound, UpcomingTariffNotSet)
)
async def get_upcoming_tariff(user_group_id: uuid.UUID, ctx: Reader, session: Uow) -> TariffRead:
    """The version scheduled to start later (404 `upcoming-tariff-not-set` if none)."""
    return TariffRead.model_validate(await service.get_upcoming_tariff(session, ctx, user_group_id))


@router.delete(
    "/upcoming",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, UpcomingTariffNotSet, GroupArchived, Conflict),
)
async def cancel_upcoming_tariff(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> Response:
    """Cancels the scheduled version before it starts; the current one stays in force."""
    await service.cancel_upcoming_tariff(session, ctx, user_group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/versions", response_model=Page[TariffRead], responses=problem_responses(NotFound))
async def list_tariff_versions(
    user_group_id: uuid.UUID, ctx: Reader, session: Uow, page: PageParams
) -> Page[TariffRead]:
    """Every tariff the group has had, newest first, with the period each was in force."""
    versions, more = await service.list_tariff_versions(session, ctx, user_group_id, page)
    items = [TariffRead.model_validate(version) for version in versions]
    return Page(
        items=items, next_cursor=next_cursor(list(versions), more, lambda v: v.created_at, lambda v: v.id)
    )
