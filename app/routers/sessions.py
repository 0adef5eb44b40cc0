import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.csv_cells import CsvWriter
from app.currencies import amount_text
from app.enums import AuthorizationStatus, SessionStatus
from app.errors import NotFound, SessionAlreadyStopped
from app.problems import problem_responses
from app.routers.deps import InfrastructureReader, Integration, PageParams, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.common import NO_CONTROL_CHARACTERS, Page, UtcDateTime
from app.schemas.sessions import SessionRead, SessionStart, SessionStop
from app.services import sessions as service
from app.services.context import RequestContext

router = APIRouter(route_class=ApiRoute, prefix="/sessions", tags=["sessions"])

EXPORT_COLUMNS = (
    "session_id", "transaction_id", "user_group", "card_uid", "card_label", "charging_group", "evse_id",
    "started_at", "stopped_at", "energy_kwh", "cost", "currency", "tariff", "decision",
)  # fmt: skip


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
    return StreamingResponse(
        _csv_lines(request, ctx, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sessions.csv"'},
    )


@router.get("/{session_id}", response_model=SessionRead, responses=problem_responses(NotFound))
async def get_session(session_id: uuid.UUID, ctx: InfrastructureReader, session: Uow) -> SessionRead:
    return to_read(await service.get_session(session, ctx, session_id))


async def _csv_lines(
    request: Request, ctx: RequestContext, filters: service.SessionFilters
) -> AsyncIterator[str]:
    # The request's unit of work has ended when the body streams; the export reads in its own session.
    writer = CsvWriter()
    writer.writerow(EXPORT_COLUMNS)
    async with request.app.state.db.sessionmaker() as export_session:
        count = 0
        async for s in service.stream_sessions(export_session, ctx, filters):
            # Text from clients (names, labels, ids) is str; numbers and times keep their types,
            # so CsvWriter neutralizes exactly the text (README, API conventions).
            writer.writerow(
                (
                    s.id, s.transaction_id, s.user_group_name, s.id_token, s.card_label,
                    s.charging_group_name, s.evse_id, s.started_at, s.stopped_at,
                    None if s.energy_kwh is None else s.energy_kwh.normalize(),
                    None if s.cost is None else Decimal(amount_text(s.cost, s.currency)),
                    s.currency, _describe_tariff(s.tariff_snapshot), s.decision_status,
                )
            )  # fmt: skip
            count += 1
            if count % 500 == 0:
                yield writer.take()
    yield writer.take()


def _describe_tariff(snapshot: dict[str, Any] | None) -> str:
    if not snapshot:
        return ""
    currency = snapshot["currency"]

    def amount(name: str) -> str:
        return amount_text(Decimal(snapshot[name]), currency)

    parts = [f"{currency} {amount('price_per_kwh')}/kWh"]
    if snapshot.get("session_fee") is not None:
        parts.append(f"{amount('session_fee')}/session")
    if snapshot.get("parking_fee_per_hour") is not None:
        grace = snapshot.get("parking_grace_minutes") or 0
        parts.append(f"{amount('parking_fee_per_hour')}/h parking after {grace} min")
    return " + ".join(parts)
