"""The change feed and the webhooks: one event shape for both (a webhook body is a feed item)."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from app.enums import AuditAction, DeliveryStatus, EntityType
from app.schemas.common import NO_CONTROL_CHARACTERS, WITHHELD_ON_REPLAY, Label, Schema


class ResourceRef(Schema):
    type: EntityType
    id: uuid.UUID


class Actor(Schema):
    api_key_id: uuid.UUID | None = Field(description="null for the console (CLI) and the system")
    name: str


class EventData(Schema):
    resource: ResourceRef
    user_group_id: uuid.UUID | None
    state: dict[str, Any] | None = Field(
        description="The resource's stored fields after the change; null when it was deleted"
    )
    old: dict[str, Any] | None = Field(description="What changed, as before (the audit record's)")
    new: dict[str, Any] | None = Field(description="What changed, as after (the audit record's)")
    actor: Actor
    audit_event_id: uuid.UUID
    request_id: str | None


class Event(Schema):
    """A change, as the feed lists it and as a webhook sends it (Standard Webhooks payload)."""

    id: uuid.UUID = Field(description="Unique per event; the `webhook-id` of its deliveries")
    type: AuditAction
    timestamp: datetime = Field(description="When the change was made")
    data: EventData


class EventPage(Schema):
    items: list[Event]
    next_cursor: str = Field(
        description="Always set: pass it to read what comes after (also when `items` is empty)"
    )


EventTypes = Annotated[list[AuditAction], Field(max_length=len(AuditAction))]
WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048, pattern=NO_CONTROL_CHARACTERS),
    Field(description="http(s) URL; loopback and private addresses are refused unless allowed"),
]


class WebhookEndpointCreate(Schema):
    url: WebhookUrl
    description: Label | None = None
    event_types: EventTypes = Field(default_factory=list, description="Empty: every event type")
    enabled: bool = True


class WebhookEndpointUpdate(Schema):
    url: WebhookUrl | None = None
    description: Label | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = Field(
        default=None, description="true also re-enables an endpoint disabled for failing"
    )


class WebhookEndpointRead(Schema):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[AuditAction]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str | None = Field(
        description="`whsec_...`, the key that verifies the signatures. Shown only in this response; "
        "stored encrypted. Null in a replay (`Idempotent-Replayed: true`).",
        json_schema_extra=WITHHELD_ON_REPLAY,
    )


class WebhookDeliveryRead(Schema):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: AuditAction
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
