import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.enums import AuthorizationStatus, SessionStatus
from app.errors import NotFound, SessionAlreadyStopped
from app.problems import problem_responses
from app.routers.deps import (
    CONSISTENT_AFTER,
    InfrastructureReader,
    Integration,
    PageParams,
    Uow,
    next_cursor,
)
from app.routers.route import ApiRoute
from app.schemas.common import NO_CONTROL_CHARACTERS, Page, UtcDateTime
from app.schemas.sessions import SessionRead, SessionStart, SessionStop
from app.services import session_export
from app.services import sessions as service

router = APIRouter(route_class=ApiRoute, prefix="/sessions", tags=["sessions"])


def session_filters(
    user_group_id: Annotated[uuid.UUID | None, Query()] = None,
    card_id: Annotated[uuid.UUID | None, Query()] = None,
    charging_group_id: Annotated[uuid.UUID | None, Query()] = None,
    connector_id: Annotated[uuid.UUID | None, Query()] = None,
    status_filter: Annotated[SessionStatus | None, Query(alias="status")] = None,
    transaction_id: Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)] = None,
    started_from: Annotated[UtcDateTime | None, Query(description="Inclusive (RFC 3339)")] = None,
    started_until: Annotated[UtcDateTime | None, Query(description="Exclusive (RFC 3339)")] = None,
) -> service.SessionFilters:
    return service.SessionFilters(
        user_group_id=user_group_id,
        card_id=card_id,
        charging_group_id=charging_group_id,
        connector_id=connector_id,
        status=status_filter,
        transaction_id=transaction_id,
        started_from=started_from,
        started_until=started_until,
    )


Filters = Annotated[service.SessionFilters, Depends(session_filters)]


def to_read(charging_session: Any) -> SessionRead:
    return SessionRead.model_validate(
        {
            **{
                field: getattr(charging_session, field)
                for field in SessionRead.model_fields
                if field != "authorized"
            },
            "authorized": charging_session.decision_status == AuthorizationStatus.accepted,
        }
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionRead,
    responses={
        200: {"model": SessionRead, "description": "Already recorded with this transaction_id (a retry)"},
        **problem_responses(NotFound),
    },
)
async def start_session(
    body: SessionStart, ctx: Integration, session: Uow, request: Request, response: Response
) -> SessionRead:
    """Records a session the backend started (idempotent on `transaction_id`: a retry gets 200 and the
    first record). Recorded even if the decision now refuses it; `authorized` says so."""
    cache_seconds = request.app.state.settings.authorization_cache_seconds
    charging_session, created = await service.start_session(session, ctx, body, cache_seconds)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/sessions/{charging_session.id}"
    return to_read(charging_session)


@router.post(
    "/{session_id}/stop",
    response_model=SessionRead,
    responses=problem_responses(NotFound, SessionAlreadyStopped),
)
async def stop_session(
    session_id: uuid.UUID, body: SessionStop, ctx: Integration, session: Uow
) -> SessionRead:
    """Meter stop and time: energy, duration and the documented cost from the session's own tariff."""
    return to_read(await service.stop_session(session, ctx, session_id, body))


@router.get("", response_model=Page[SessionRead])
async def list_sessions(
    ctx: InfrastructureReader, session: Uow, page: PageParams, filters: Filters
) -> Page[SessionRead]:
    charging_sessions, more = await service.list_sessions(session, ctx, page, filters)
    items = [to_read(s) for s in charging_sessions]
    return Page(
        items=items,
        next_cursor=next_cursor(list(charging_sessions), more, lambda s: s.created_at, lambda s: s.id),
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV, one session a line",
        }
    },
)
async def export_sessions(ctx: InfrastructureReader, filters: Filters, request: Request) -> StreamingResponse:
    """Every matching session as CSV, oldest first, streamed in constant memory."""

    async def lines() -> AsyncIterator[bytes]:
        # The request's unit of work has ended when the body streams: the export has its own session.
        # It reads where the request's reads go (the replica when there is one).
        async with (
            request.app.state.db.read_session(request.headers.get(CONSISTENT_AFTER)) as export_session,
            aclosing(session_export.sessions_csv(export_session, ctx, filters)) as chunks,
        ):
            async for chunk in chunks:
                yield chunk

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sessions.csv"'},
    )


@router.get("/{session_id}", response_model=SessionRead, responses=problem_responses(NotFound))
async def get_session(session_id: uuid.UUID, ctx: InfrastructureReader, session: Uow) -> SessionRead:
    return to_read(await service.get_session(session, ctx, session_id))
