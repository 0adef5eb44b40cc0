"""CSV exports, streamed in constant memory; every text cell is safe to open in a spreadsheet."""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app.errors import NotFound
from app.problems import problem_responses
from app.routers.audit import Filters as AuditEventFilters
from app.routers.deps import CONSISTENT_AFTER, AuditReader, Reader, Uow
from app.routers.route import ApiRoute
from app.schemas.common import NO_CONTROL_CHARACTERS
from app.services import exports as service
from app.services.context import RequestContext

router = APIRouter(route_class=ApiRoute)

Search = Annotated[
    str | None,
    Query(
        max_length=100, pattern=NO_CONTROL_CHARACTERS, description="Part of the UID, label or printed number"
    ),
]
Blocked = Annotated[bool | None, Query(description="Only blocked (true) or unblocked (false) cards")]


def _csv(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description}}


def _streamed(
    request: Request, produce: Callable[[Any], AsyncIterator[str]], filename: str
) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        # The request's unit of work has ended when the body streams: the export has its own session.
        # It reads where the request's reads go (the replica when there is one).
        db = request.app.state.db
        async with db.read_session(request.headers.get(CONSISTENT_AFTER)) as export_session:
            async for piece in produce(export_session):
                yield piece

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cards(
    request: Request, ctx: RequestContext, group_id: uuid.UUID | None, q: str | None, blocked: bool | None
) -> StreamingResponse:
    return _streamed(request, lambda s: service.cards_csv(s, ctx, group_id, q, blocked), "cards.csv")


@router.get(
    "/user-groups/{user_group_id}/cards/export.csv",
    tags=["cards"],
    response_class=StreamingResponse,
    responses={
        **_csv("The group's cards, oldest first, in the columns of the card import"),
        **problem_responses(NotFound),
    },
)
async def export_user_group_cards(
    user_group_id: uuid.UUID,
    ctx: Reader,
    session: Uow,
    request: Request,
    q: Search = None,
    blocked: Blocked = None,
) -> StreamingResponse:
    """The group's cards as CSV, in the columns of the card import (`POST .../cards/import`), which
    takes the file back unchanged."""
    await service.require_group(session, ctx, user_group_id)
    return _cards(request, ctx, user_group_id, q, blocked)


@router.get(
    "/cards/export.csv",
    tags=["cards"],
    response_class=StreamingResponse,
    responses=_csv("The organization's cards, oldest first, in the columns of the card import"),
)
async def export_cards(
    ctx: Reader,
    request: Request,
    user_group_id: Annotated[uuid.UUID | None, Query(description="Only this user group's cards")] = None,
    q: Search = None,
    blocked: Blocked = None,
) -> StreamingResponse:
    """The organization's cards (filtered) as CSV, in the columns of the card import."""
    return _cards(request, ctx, user_group_id, q, blocked)


@router.get(
    "/audit-events/export.csv",
    tags=["audit-events"],
    response_class=StreamingResponse,
    responses=_csv("Audit records, oldest first; old and new values as JSON text"),
)
async def export_audit_events(
    ctx: AuditReader, request: Request, filters: AuditEventFilters
) -> StreamingResponse:
    """The audit trail as CSV, with the filters of `GET /v1/audit-events`, oldest first."""
    return _streamed(request, lambda s: service.audit_csv(s, ctx, filters), "audit-events.csv")
