"""The change feed: one event per audited change of the organization's resources, written by
`audit.record` in the transaction of the change, and fanned out to the webhook endpoints that
subscribe to it (a delivery row each, in the same transaction)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import EntityType
from app.models import AuditEvent, ChangeEvent, WebhookDelivery
from app.pagination import FEED_START, FeedPosition
from app.repositories import events as repository
from app.repositories.webhooks import announce_deliveries, subscribed_endpoints
from app.schemas.events import Actor, Event, EventData, ResourceRef
from app.services.context import RequestContext

# Keys and webhook endpoints are the feed's own access and configuration, not resources it reports.
UNPUBLISHED = frozenset({EntityType.api_key.value, EntityType.webhook_endpoint.value})


async def publish(session: AsyncSession, audit_event: AuditEvent, state: dict[str, Any] | None) -> None:
    if audit_event.entity_type in UNPUBLISHED:
        return
    event = ChangeEvent(
        txid=repository.current_txid(session),
        organization_id=audit_event.organization_id,
        audit_event_id=audit_event.id,
        type=audit_event.action,
        entity_type=audit_event.entity_type,
        entity_id=audit_event.entity_id,
        state=state,
        occurred_at=audit_event.created_at,
    )
    session.add(event)
    endpoints = await subscribed_endpoints(session, audit_event.organization_id, audit_event.action)
    if endpoints:
        await session.flush()  # the event's number, which the deliveries refer to
        for endpoint_id in endpoints:
            session.add(
                WebhookDelivery(
                    organization_id=audit_event.organization_id,
                    endpoint_id=endpoint_id,
                    event_seq=event.seq,
                    next_attempt_at=audit_event.created_at,
                )
            )
        await announce_deliveries(session)


def to_event(change: ChangeEvent, audit_event: AuditEvent) -> Event:
    return Event(
        id=change.id,
        type=change.type,
        timestamp=change.occurred_at,
        data=EventData(
            resource=ResourceRef(type=change.entity_type, id=change.entity_id),
            user_group_id=audit_event.user_group_id,
            state=change.state,
            old=audit_event.old_values,
            new=audit_event.new_values,
            actor=Actor(api_key_id=audit_event.actor_api_key_id, name=audit_event.actor_name),
            audit_event_id=audit_event.id,
            request_id=audit_event.request_id,
        ),
    )


async def read_feed(
    session: AsyncSession,
    ctx: RequestContext,
    after: FeedPosition | None,
    limit: int,
    types: Sequence[str] = (),
) -> tuple[list[Event], FeedPosition]:
    """The events after `after` (from the start when None), oldest first, and the position to
    read on from: the last event's, or `after` itself when there is nothing new yet."""
    position = after or FEED_START
    rows = await repository.feed_after(session, ctx.organization_id, position, limit, types)
    events = [to_event(change, audit_event) for change, audit_event in rows]
    for change, _audit_event in rows[-1:]:  # the last one read, if any
        position = FeedPosition(change.txid, change.seq)
    return events, position


async def events_by_seq(session: AsyncSession, seqs: Sequence[int]) -> dict[int, Event]:
    rows = await repository.get_events(session, seqs)
    return {seq: to_event(change, audit_event) for seq, (change, audit_event) in rows.items()}
