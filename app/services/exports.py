"""CSV exports, read in their own session while the response streams (the request's unit of work
has ended by then): a group's or the organization's cards, in the columns the card import reads,
and the audit trail."""

import json
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from app.csv_cells import Cell, CsvWriter
from app.errors import NotFound
from app.repositories.audit_events import AuditEventRepository, AuditFilters
from app.repositories.exports import CardExportRepository
from app.repositories.user_groups import UserGroupRepository
from app.services.card_batches import CSV_COLUMNS
from app.services.context import RequestContext

AUDIT_COLUMNS = (
    "id", "created_at", "action", "entity_type", "entity_id", "user_group_id", "actor_api_key_id",
    "actor_name", "request_id", "old_values", "new_values",
)  # fmt: skip
ROWS_PER_CHUNK = 500


async def require_group(session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID) -> None:
    if await UserGroupRepository(session, ctx.organization_id).get(user_group_id) is None:
        raise NotFound(f"User group {user_group_id} not found.")


async def cards_csv(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID | None,
    query: str | None,
    blocked: bool | None,
) -> AsyncIterator[str]:
    """The import's own columns (app/services/card_batches.py CSV_COLUMNS), so the file goes back in as it
    is: text cells neutralized against formulas, which the import reads back exactly."""
    writer = CsvWriter()
    writer.writerow(CSV_COLUMNS)
    count = 0
    async for card in CardExportRepository(session, ctx.organization_id).stream(
        user_group_id, query, blocked
    ):
        cells: list[Cell] = [card[column] for column in CSV_COLUMNS]
        writer.writerow(cells)
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield writer.take()
    yield writer.take()


async def audit_csv(session: AsyncSession, ctx: RequestContext, filters: AuditFilters) -> AsyncIterator[str]:
    """The trail, oldest first; old and new values as JSON text (one cell each)."""
    writer = CsvWriter()
    writer.writerow(AUDIT_COLUMNS)
    events = AuditEventRepository(session, ctx.organization_id).stream(filters)
    count = 0
    async for event in events:
        writer.writerow(
            (
                event.id, event.created_at, event.action, event.entity_type, event.entity_id,
                event.user_group_id, event.actor_api_key_id, event.actor_name, event.request_id,
                _json(event.old_values), _json(event.new_values),
            )
        )  # fmt: skip
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield writer.take()
    yield writer.take()


def _json(values: dict[str, object] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)
