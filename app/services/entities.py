"""What every aggregate's service does the same way: find one of the organization's rows or
answer 404, and apply a partial update (the fields the client actually sent)."""

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import NotFound
from app.models import ApiKey, Card, ChargePoint, ChargingGroup, ChargingSession, Connector, UserGroup
from app.repositories.base import Repository
from app.repositories.user_groups import UserGroupRepository
from app.services import audit
from app.services.context import RequestContext

T = TypeVar("T")
M = TypeVar("M")

# How a 404 names each kind of resource ("Charging group <id> not found.").
NAMES: dict[type[Any], str] = {
    ApiKey: "API key",
    Card: "Card",
    ChargePoint: "Charge point",
    ChargingGroup: "Charging group",
    ChargingSession: "Session",
    Connector: "Connector",
    UserGroup: "User group",
}


def found(value: T | None, model: type[Any], id_: uuid.UUID) -> T:
    """The value, or the 404 for a `model` with this id (another organization's rows included)."""
    if value is None:
        raise NotFound(f"{NAMES[model]} {id_} not found.")
    return value


async def get_or_404(repository: Repository[M], id_: uuid.UUID, *, for_update: bool = False) -> M:
    return found(await repository.get(id_, for_update=for_update), repository.model, id_)


async def lock_group(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> UserGroup:
    """The user group, locked for this transaction: every change to a group, its cards, its
    tariff or its activation starts here (lock -> facts -> policy -> change -> audit)."""
    return await get_or_404(UserGroupRepository(session, ctx.organization_id), id_, for_update=True)


def sent_changes(data: BaseModel, model: type[Any]) -> dict[str, Any]:
    """The fields the client sent. A null clears a column that may be empty; for a column that
    may not, null means "leave as is" (the same as not sending the field)."""
    columns = model.__table__.columns
    return {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or columns[key].nullable
    }


async def apply_changes(
    session: AsyncSession,
    ctx: RequestContext,
    entity: Any,
    changes: dict[str, Any],
    action: AuditAction,
    **audit_options: Any,
) -> None:
    """Sets the changed columns and audits old -> new; a change that changes nothing writes nothing."""
    for key, value in changes.items():
        setattr(entity, key, value)
    await audit.record(session, ctx, action, entity, only_if_changed=True, **audit_options)
