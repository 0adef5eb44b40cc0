import uuid
from datetime import datetime

from pydantic import Field

from app.enums import Role
from app.schemas.common import WITHHELD_ON_REPLAY, Name, Schema


class ApiKeyCreate(Schema):
    name: Name = Field(description="Who or what uses the key; shown in the audit trail")
    role: Role


class ApiKeyRead(Schema):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="Visible part of the key, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str | None = Field(
        description="The secret key. Shown only in this response; store it now. Null in a replay "
        "(`Idempotent-Replayed: true`): the secret is never stored.",
        json_schema_extra=WITHHELD_ON_REPLAY,
    )
