import uuid
from dataclasses import dataclass

from app.enums import Role


@dataclass(frozen=True)
class RequestContext:
    """Who is acting, for which organization, in which request. Passed explicitly to services."""

    organization_id: uuid.UUID
    api_key_id: uuid.UUID | None
    actor_name: str
    role: Role
    request_id: str | None
