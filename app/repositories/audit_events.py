import operator
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select

from app.db.reads import Reads
from app.models import AuditEvent
from app.pagination import PageRequest
from app.repositories.base import Repository, built_once, page_values, paginate_bound


@dataclass(frozen=True)
class AuditFilters:
    """Which records: each filter given narrows the trail; `since` inclusive, `until` exclusive."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    user_group_id: uuid.UUID | None = None
    actor_api_key_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


# Each filter of AuditFilters: its column and how a record's value compares with the filter's.
FILTERS: tuple[tuple[str, Any, Callable[[Any, Any], Any]], ...] = (
    ("entity_type", AuditEvent.entity_type, operator.eq),
    ("entity_id", AuditEvent.entity_id, operator.eq),
    ("user_group_id", AuditEvent.user_group_id, operator.eq),
    ("actor_api_key_id", AuditEvent.actor_api_key_id, operator.eq),
    ("since", AuditEvent.created_at, operator.ge),
    ("until", AuditEvent.created_at, operator.lt),
)


class AuditEventRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def search(self, page: PageRequest, filters: AuditFilters) -> tuple[Sequence[AuditEvent], bool]:
        return await self.page(self._filtered(filters), page)

    async def stream(self, filters: AuditFilters) -> AsyncIterator[AuditEvent]:
        """Every matching record, oldest first, in batches through a server-side cursor."""
        statement = self._filtered(filters).order_by(AuditEvent.created_at, AuditEvent.id)
        result = await self.session.stream_scalars(statement.execution_options(yield_per=1000))
        async for event in result:
            yield event

    def _filtered(self, filters: AuditFilters) -> Select[AuditEvent]:
        statement = self.base_statement()
        for name, column, compare in FILTERS:
            value = getattr(filters, name)
            if value is not None:
                statement = statement.where(compare(column, value))
        return statement


class AuditRow(NamedTuple):
    """A record as the JSON pages show it (Core, no ORM object)."""

    id: uuid.UUID
    action: str
    entity_type: str
    entity_id: uuid.UUID
    user_group_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    actor_name: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


AUDIT_ROW_COLUMNS = tuple(getattr(AuditEvent, name) for name in AuditRow._fields)


class AuditPageRepository:
    """Pages of the trail on the driver, outside a transaction, from the replica when there is
    one (`Reads`): what a group's history reads."""

    def __init__(self, reads: Reads, organization_id: uuid.UUID) -> None:
        self.reads = reads
        self.organization_id = organization_id

    async def search(self, page: PageRequest, filters: AuditFilters) -> tuple[list[AuditRow], bool]:
        given = {name: getattr(filters, name) for name, _, _ in FILTERS if getattr(filters, name) is not None}

        def build() -> Select[Any]:
            statement = select(*AUDIT_ROW_COLUMNS).where(
                AuditEvent.organization_id == bindparam("audit_organization_id", type_=AuditEvent.id.type)
            )
            for name, column, compare in FILTERS:
                if name in given:
                    statement = statement.where(
                        compare(column, bindparam(f"audit_{name}", type_=column.type))
                    )
            return paginate_bound(statement, AuditEvent, page.after is not None)

        statement = built_once(("audit_rows", tuple(given), page.after is not None), build)
        values = {f"audit_{name}": value for name, value in given.items()}
        values |= {"audit_organization_id": self.organization_id, **page_values(page)}
        rows = [AuditRow._make(row) for row in await self.reads.all(statement, values)]
        return rows[: page.limit], len(rows) > page.limit
