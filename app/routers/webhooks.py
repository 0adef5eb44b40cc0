import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from app.enums import DeliveryStatus
from app.errors import IdempotencyKeyReused, InvalidInput, NotFound
from app.problems import problem_responses
from app.routers.deps import FeedReader, PageParams, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.common import Page
from app.schemas.events import (
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)
from app.services import webhook_delivery
from app.services import webhooks as service
from app.settings import Settings

router = APIRouter(route_class=ApiRoute, prefix="/webhook-endpoints", tags=["webhooks"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def delivery_read(row: Any) -> WebhookDeliveryRead:
    delivery, event_id, event_type = row
    return WebhookDeliveryRead(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=event_id,
        event_type=event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=webhook_delivery.delivery_pending_at(delivery),
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


@router.get("", response_model=Page[WebhookEndpointRead])
async def list_webhook_endpoints(
    ctx: FeedReader, session: Uow, page: PageParams
) -> Page[WebhookEndpointRead]:
    endpoints, more = await service.list_endpoints(session, ctx, page)
    items = [WebhookEndpointRead.model_validate(endpoint) for endpoint in endpoints]
    return Page(items=items, next_cursor=next_cursor(items, more, lambda e: e.created_at, lambda e: e.id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointCreated,
    responses=problem_responses(InvalidInput, IdempotencyKeyReused),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, ctx: FeedReader, session: Uow, request: Request, response: Response
) -> WebhookEndpointCreated:
    """Subscribes a URL to the organization's events. The signing secret is in this response only:
    store it now (it is kept encrypted, and shown never again)."""
    endpoint, secret = await service.create_endpoint(session, ctx, _settings(request), body)
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    return WebhookEndpointCreated(**WebhookEndpointRead.model_validate(endpoint).model_dump(), secret=secret)


@router.get("/{endpoint_id}", response_model=WebhookEndpointRead, responses=problem_responses(NotFound))
async def get_webhook_endpoint(endpoint_id: uuid.UUID, ctx: FeedReader, session: Uow) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(await service.get_endpoint(session, ctx, endpoint_id))


@router.patch(
    "/{endpoint_id}", response_model=WebhookEndpointRead, responses=problem_responses(NotFound, InvalidInput)
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID, body: WebhookEndpointUpdate, ctx: FeedReader, session: Uow, request: Request
) -> WebhookEndpointRead:
    """Changes the URL, the event types or the description, or disables or enables the endpoint
    (enabling also ends a disabling for failures)."""
    endpoint = await service.update_endpoint(session, ctx, _settings(request), endpoint_id, body)
    return WebhookEndpointRead.model_validate(endpoint)


@router.delete(
    "/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(NotFound)
)
async def delete_webhook_endpoint(endpoint_id: uuid.UUID, ctx: FeedReader, session: Uow) -> Response:
    """Deletes the endpoint with its delivery log; nothing more is sent to it."""
    await service.delete_endpoint(session, ctx, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[WebhookDeliveryRead],
    responses=problem_responses(NotFound),
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    ctx: FeedReader,
    session: Uow,
    page: PageParams,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Page[WebhookDeliveryRead]:
    """The endpoint's delivery log, newest first: each event sent, its attempts and their outcome."""
    rows, more = await service.list_deliveries(session, ctx, endpoint_id, page, status)
    items = [delivery_read(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor(items, more, lambda d: d.created_at, lambda d: d.id))


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=WebhookDeliveryRead,
    responses=problem_responses(NotFound),
)
async def get_webhook_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, ctx: FeedReader, session: Uow
) -> WebhookDeliveryRead:
    return delivery_read(await service.get_delivery(session, ctx, endpoint_id, delivery_id))


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryRead,
    responses=problem_responses(NotFound, IdempotencyKeyReused),
)
async def redeliver_webhook(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, ctx: FeedReader, session: Uow, response: Response
) -> WebhookDeliveryRead:
    """Sends the delivery's event again, as a new delivery due now (the log keeps the earlier one)."""
    delivery = delivery_read(await service.redeliver(session, ctx, endpoint_id, delivery_id))
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery.id}"
    return delivery
