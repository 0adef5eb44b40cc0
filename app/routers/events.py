from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from app.enums import AuditAction
from app.pagination import InvalidCursor, decode_feed_cursor, encode_feed_cursor
from app.routers.deps import FeedReader, Uow
from app.routers.route import ApiRoute, reads_primary
from app.schemas.common import NO_CONTROL_CHARACTERS
from app.schemas.events import EventPage
from app.services import events as service

router = APIRouter(route_class=ApiRoute, prefix="/events", tags=["events"])


@router.get("", response_model=EventPage)
@reads_primary
async def list_events(
    ctx: FeedReader,
    session: Uow,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=NO_CONTROL_CHARACTERS,
            description="`next_cursor` of the previous page; none to start from the first event",
        ),
    ] = None,
    type: Annotated[list[AuditAction] | None, Query(description="Only events of these types")] = None,
) -> EventPage:
    """The change feed: every change to user groups, tariffs, activations, cards, sessions and the
    charging infrastructure, oldest first. Keep the last `next_cursor` and read on from it: no event
    is skipped or repeated, whatever order concurrent changes commit in (README "Change feed")."""
    try:
        after = decode_feed_cursor(cursor) if cursor else None
    except InvalidCursor as error:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": str(error), "type": "value_error"}]
        ) from error
    items, position = await service.read_feed(
        session, ctx, after, limit, [t.value for t in type] if type else ()
    )
    return EventPage(items=items, next_cursor=encode_feed_cursor(position))
