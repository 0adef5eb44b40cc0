import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from app.errors import (
    CardsRejected,
    CardUidTaken,
    GroupArchived,
    InvalidInput,
    NotFound,
)
from app.problems import problem_responses
from app.routers.deps import Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.cards import CardCreate, CardMove, CardRead, CardsAdded, CardsBulkCreate, CardUpdate
from app.schemas.common import NO_CONTROL_CHARACTERS, Page
from app.services import card_batches
from app.services import cards as service

router = APIRouter(route_class=ApiRoute, tags=["cards"])

Search = Annotated[
    str | None,
    Query(
        max_length=100, pattern=NO_CONTROL_CHARACTERS, description="Part of the UID, label or printed number"
    ),
]


def cards_location(user_group_id: uuid.UUID) -> str:
    """Location of a bulk add or an import: the cards are many, so the group's card list."""
    return f"/v1/user-groups/{user_group_id}/cards"


def page_of(cards: list[CardRead], more: bool) -> Page[CardRead]:
    return Page(items=cards, next_cursor=next_cursor(cards, more, lambda c: c.created_at, lambda c: c.id))


@router.post(
    "/user-groups/{user_group_id}/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=CardRead,
    responses=problem_responses(NotFound, CardUidTaken, GroupArchived),
)
async def add_card(
    user_group_id: uuid.UUID, body: CardCreate, ctx: Manager, session: Uow, response: Response
) -> CardRead:
    """Adds one card. The UID is normalized; a UID already in the organization is a 409 naming its group."""
    card = await service.add_card(session, ctx, user_group_id, body)
    response.headers["Location"] = f"/v1/cards/{card.id}"
    return CardRead.model_validate(card)


@router.post(
    "/user-groups/{user_group_id}/cards/bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=CardsAdded,
    responses=problem_responses(NotFound, CardsRejected, GroupArchived),
)
async def add_cards(
    user_group_id: uuid.UUID, body: CardsBulkCreate, ctx: Manager, session: Uow, response: Response
) -> CardsAdded:
    """Adds up to 10,000 cards, all or nothing; a 422 lists every bad row."""
    added = await card_batches.add_cards(
        session, ctx, user_group_id, card_batches.CardBatch.from_json(body.cards)
    )
    response.headers["Location"] = cards_location(user_group_id)
    return CardsAdded(user_group_id=user_group_id, added=added)


@router.post(
    "/user-groups/{user_group_id}/cards/import",
    status_code=status.HTTP_201_CREATED,
    response_model=CardsAdded,
    responses=problem_responses(NotFound, CardsRejected, InvalidInput, GroupArchived),
)
async def import_cards(
    user_group_id: uuid.UUID,
    ctx: Manager,
    session: Uow,
    response: Response,
    file: Annotated[
        UploadFile,
        File(
            description="UTF-8 CSV with a header line: uid (required), "
            + ", ".join(card_batches.CSV_COLUMNS[1:]),
            # Generators (openapi-python-client) recognise a file by `format: binary`.
            json_schema_extra={"format": "binary"},
        ),
    ],
) -> CardsAdded:
    """CSV upload of up to 10,000 cards, all or nothing; a 422 names each bad line."""
    added = await card_batches.import_cards_csv(session, ctx, user_group_id, await file.read())
    response.headers["Location"] = cards_location(user_group_id)
    return CardsAdded(user_group_id=user_group_id, added=added)


@router.get(
    "/user-groups/{user_group_id}/cards", response_model=Page[CardRead], responses=problem_responses(NotFound)
)
async def list_user_group_cards(
    user_group_id: uuid.UUID, ctx: Reader, session: Uow, page: PageParams, q: Search = None
) -> Page[CardRead]:
    cards, more = await service.list_cards(session, ctx, page, user_group_id, q)
    return page_of([CardRead.model_validate(card) for card in cards], more)


@router.get("/cards", response_model=Page[CardRead])
async def list_cards(ctx: Reader, session: Uow, page: PageParams, q: Search = None) -> Page[CardRead]:
    """Cards of every user group of the organization, newest first."""
    cards, more = await service.list_cards(session, ctx, page, None, q)
    return page_of([CardRead.model_validate(card) for card in cards], more)


@router.get("/cards/{card_id}", response_model=CardRead, responses=problem_responses(NotFound))
async def get_card(card_id: uuid.UUID, ctx: Reader, session: Uow) -> CardRead:
    card = await service.get_card(session, ctx, card_id)
    return CardRead.model_validate(card)


@router.patch("/cards/{card_id}", response_model=CardRead, responses=problem_responses(NotFound))
async def update_card(
    card_id: uuid.UUID,
    body: CardUpdate,
    ctx: Manager,
    session: Uow,
) -> CardRead:
    """Label, printed number, validity period (null clears it), blocked."""
    card = await service.update_card(session, ctx, card_id, body)
    return CardRead.model_validate(card)


@router.post(
    "/cards/{card_id}/move", response_model=CardRead, responses=problem_responses(NotFound, GroupArchived)
)
async def move_card(card_id: uuid.UUID, body: CardMove, ctx: Manager, session: Uow) -> CardRead:
    """Moves the card to another user group of the organization (not into an archived one)."""
    card = await service.move_card(session, ctx, card_id, body.user_group_id)
    return CardRead.model_validate(card)


@router.delete(
    "/cards/{card_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound),
)
async def remove_card(card_id: uuid.UUID, ctx: Manager, session: Uow) -> Response:
    """Removes the card; sessions it made keep its UID."""
    await service.remove_card(session, ctx, card_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
