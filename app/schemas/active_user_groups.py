import uuid
from datetime import datetime

from pydantic import Field

from app.enums import ActivationScope
from app.schemas.common import Schema


class ActiveUserGroup(Schema):
    """A user group whose cards may charge on the charging group."""

    id: uuid.UUID
    name: str
    activation_scope: ActivationScope = Field(
        description="`all`: active on the whole infrastructure; `custom`: activated on this charging group"
    )
    card_count: int
    created_at: datetime
