import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.errors import CardUidTaken, GroupArchived, LearningModeTaken, NotFound
from app.models import UnknownCard
from app.problems import problem_responses
from app.routers.deps import DeskReader, Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.activation import ChargingGroupRef
from app.schemas.cards import CardRead
from app.schemas.common import Page
from app.schemas.unknown_cards import AddUnknownCard, LearningModeInput, LearningModeRead, UnknownCardRead
from app.services import learning_mode, unknown_cards

router = APIRouter(route_class=ApiRoute, tags=["unknown-cards"])


def to_read(entry: UnknownCard, charging_group_name: str) -> UnknownCardRead:
    return UnknownCardRead(
        id=entry.id,
        uid=entry.uid,
        charging_group_id=entry.charging_group_id,
        charging_group_name=charging_group_name,
        first_seen_at=entry.created_at,
        last_seen_at=entry.last_seen_at,
        seen_count=entry.seen_count,
    )


@router.get("/unknown-cards", response_model=Page[UnknownCardRead], responses=problem_responses(NotFound))
async def list_unknown_cards(
    ctx: DeskReader,
    session: Uow,
    page: PageParams,
    charging_group_id: Annotated[uuid.UUID | None, Query(description="Only those seen there")] = None,
) -> Page[UnknownCardRead]:
    """UIDs refused as unknown, per charging group, most recently seen first (the last 1,000 of
    the organization; written about a second after the refusal). A UID that became a card since
    is left out."""
    items, more = await unknown_cards.list_unknown_cards(session, ctx, page, charging_group_id)
    return Page(
        items=[to_read(entry, name) for entry, name in items],
        next_cursor=next_cursor(list(items), more, lambda i: i[0].last_seen_at, lambda i: i[0].id),
    )


@router.get(
    "/unknown-cards/{unknown_card_id}", response_model=UnknownCardRead, responses=problem_responses(NotFound)
)
async def get_unknown_card(unknown_card_id: uuid.UUID, ctx: DeskReader, session: Uow) -> UnknownCardRead:
    """One unknown UID at one charging group."""
    return to_read(*await unknown_cards.get_unknown_card(session, ctx, unknown_card_id))


@router.post(
    "/unknown-cards/{unknown_card_id}/add-to-group",
    status_code=status.HTTP_201_CREATED,
    response_model=CardRead,
    responses=problem_responses(NotFound, CardUidTaken, GroupArchived),
)
async def add_unknown_card(
    unknown_card_id: uuid.UUID, body: AddUnknownCard, ctx: Manager, session: Uow, response: Response
) -> CardRead:
    """The unknown UID becomes a card of the user group (audited as `card.added`, like
    POST /v1/user-groups/{id}/cards) and leaves the unknown list, at every charging group."""
    card = await unknown_cards.add_unknown_card(session, ctx, unknown_card_id, body)
    response.headers["Location"] = f"/v1/cards/{card.id}"
    return CardRead.model_validate(card)


def mode_read(view: learning_mode.LearningModeView) -> LearningModeRead:
    return LearningModeRead(
        active=view.active,
        started_at=view.started_at,
        ends_at=view.ends_at,
        charging_groups=[ChargingGroupRef(id=id_, name=name) for id_, name in view.charging_groups],
    )


LEARNING = "/user-groups/{user_group_id}/learning-mode"


@router.get(LEARNING, response_model=LearningModeRead, responses=problem_responses(NotFound))
async def get_learning_mode(user_group_id: uuid.UUID, ctx: Reader, session: Uow) -> LearningModeRead:
    """The group's learning mode: running or not, until when, where."""
    return mode_read(await learning_mode.get_learning_mode(session, ctx, user_group_id))


@router.put(
    LEARNING,
    response_model=LearningModeRead,
    responses=problem_responses(NotFound, GroupArchived, LearningModeTaken),
)
async def start_learning_mode(
    user_group_id: uuid.UUID, body: LearningModeInput, ctx: Manager, session: Uow
) -> LearningModeRead:
    """Starts (or replaces) the learning mode: until `ends_at` (at most 24 hours), an unknown UID
    tapped at one of the charging groups joins the group and is accepted (audited as
    `card.learned`, actor "learning mode (key <the backend's key>)")."""
    return mode_read(await learning_mode.start_learning_mode(session, ctx, user_group_id, body))


@router.delete(LEARNING, response_model=LearningModeRead, responses=problem_responses(NotFound))
async def stop_learning_mode(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> LearningModeRead:
    """Stops learning now (nothing to stop: no change)."""
    return mode_read(await learning_mode.stop_learning_mode(session, ctx, user_group_id))
