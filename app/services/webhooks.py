"""Webhook endpoints (admin and integration manage them), their delivery log and redelivery."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, DeliveryStatus
from app.errors import NotFound
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.pagination import PageRequest
from app.repositories.webhooks import (
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
    announce_deliveries,
)
from app.schemas.events import WebhookEndpointCreate, WebhookEndpointUpdate
from app.services import audit, webhook_secrets
from app.services.context import RequestContext
from app.services.webhook_urls import require_allowed_url
from app.settings import Settings


async def create_endpoint(
    session: AsyncSession, ctx: RequestContext, settings: Settings, data: WebhookEndpointCreate
) -> tuple[WebhookEndpoint, str]:
    await require_allowed_url(data.url, settings)
    secret = webhook_secrets.new_secret()
    endpoint = WebhookEndpoint(
        organization_id=ctx.organization_id,
        url=data.url,
        description=data.description,
        event_types=sorted({event_type.value for event_type in data.event_types}),
        enabled=data.enabled,
        secret_ciphertext=webhook_secrets.encrypt(settings, secret),
    )
    WebhookEndpointRepository(session, ctx.organization_id).add(endpoint)
    await audit.record(session, ctx, AuditAction.webhook_endpoint_created, endpoint)
    return endpoint, secret


async def get_endpoint(
    session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await WebhookEndpointRepository(session, ctx.organization_id).get(
        endpoint_id, for_update=for_update
    )
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")
    return endpoint


async def list_endpoints(
    session: AsyncSession, ctx: RequestContext, page: PageRequest
) -> tuple[Sequence[WebhookEndpoint], bool]:
    return await WebhookEndpointRepository(session, ctx.organization_id).list(page)


async def update_endpoint(
    session: AsyncSession,
    ctx: RequestContext,
    settings: Settings,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, ctx, endpoint_id, for_update=True)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await require_allowed_url(changes["url"], settings)
        endpoint.url = changes["url"]
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("event_types") is not None:
        endpoint.event_types = sorted({event_type.value for event_type in data.event_types or []})
    if changes.get("enabled") is not None:
        endpoint.enabled = changes["enabled"]
        if endpoint.enabled:  # enabled again: failures so far no longer count toward disabling it
            endpoint.disabled_reason = None
            endpoint.failing_since = None
            await announce_deliveries(session)  # its waiting deliveries go out now
    await audit.record(
        session,
        ctx,
        AuditAction.webhook_endpoint_updated,
        endpoint,
        new={"url": endpoint.url},
        only_if_changed=True,
    )
    return endpoint


async def delete_endpoint(session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID) -> None:
    """The endpoint and its delivery log go; the events stay in the feed."""
    endpoint = await get_endpoint(session, ctx, endpoint_id, for_update=True)
    await WebhookEndpointRepository(session, ctx.organization_id).delete(endpoint)
    await audit.record(session, ctx, AuditAction.webhook_endpoint_deleted, endpoint)


async def list_deliveries(
    session: AsyncSession,
    ctx: RequestContext,
    endpoint_id: uuid.UUID,
    page: PageRequest,
    status: DeliveryStatus | None,
) -> tuple[Sequence[Any], bool]:
    await get_endpoint(session, ctx, endpoint_id)
    return await WebhookDeliveryRepository(session, ctx.organization_id).of_endpoint(
        endpoint_id, page, status
    )


async def get_delivery(
    session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> Any:
    row = await WebhookDeliveryRepository(session, ctx.organization_id).one_of_endpoint(
        endpoint_id, delivery_id
    )
    if row is None:
        raise NotFound(f"Delivery {delivery_id} of webhook endpoint {endpoint_id} not found.")
    return row


async def redeliver(
    session: AsyncSession, ctx: RequestContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> Any:
    """A new delivery of the same event, due now; the log keeps the earlier one as it was."""
    endpoint = await get_endpoint(session, ctx, endpoint_id)
    earlier, event_id, event_type = await get_delivery(session, ctx, endpoint_id, delivery_id)
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        organization_id=ctx.organization_id,
        endpoint_id=endpoint.id,
        event_seq=earlier.event_seq,
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(delivery)
    await announce_deliveries(session)
    context = {"delivery_id": str(delivery.id), "of_delivery_id": str(earlier.id), "event_id": str(event_id)}
    await audit.record(session, ctx, AuditAction.webhook_delivery_requeued, endpoint, new=context)
    return delivery, event_id, event_type
