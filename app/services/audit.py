"""The audit trail: one record per change, added to the caller's session (never committed here)."""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, EntityType
from app.models import AuditEvent
from app.services.context import RequestContext


def json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        # The same text on every database (PostgreSQL returns NUMERIC with its full scale).
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def snapshot(entity: Any, *fields: str) -> dict[str, Any]:
    """Column values as JSON, for the old/new sides of an audit record."""
    return {field: json_value(getattr(entity, field)) for field in fields}


def changed_only(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def record(
    session: AsyncSession,
    ctx: RequestContext,
    action: AuditAction,
    entity_type: EntityType,
    entity_id: uuid.UUID,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    user_group_id: uuid.UUID | None = None,
) -> AuditEvent:
    event = AuditEvent(
        organization_id=ctx.organization_id,
        actor_api_key_id=ctx.api_key_id,
        actor_name=ctx.actor_name,
        action=action.value,
        entity_type=entity_type.value,
        entity_id=entity_id,
        user_group_id=user_group_id,
        old_values=json_value(old) if old is not None else None,
        new_values=json_value(new) if new is not None else None,
        request_id=ctx.request_id,
    )
    session.add(event)
    return event
