import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.enums import AuditAction, EntityType
from app.schemas.common import Schema


class AuditEventRead(Schema):
    id: uuid.UUID
    action: AuditAction = Field(description="`entity.verb`: what the record records")
    entity_type: EntityType
    entity_id: uuid.UUID
    user_group_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    actor_name: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    request_id: str | None
    created_at: datetime
