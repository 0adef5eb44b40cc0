"""Webhook endpoints (per organization) and the delivery queue (across organizations, for the
worker)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import signal_on_commit
from app.enums import DeliveryStatus
from app.models import ChangeEvent, WebhookDelivery, WebhookEndpoint
from app.models.base import AUDITED_BULK
from app.pagination import PageRequest
from app.repositories.base import Repository, paginate


async def subscribed_endpoints(
    session: AsyncSession, organization_id: uuid.UUID, event_type: str
) -> list[uuid.UUID]:
    statement = select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
        WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.enabled.is_(True)
    )
    rows = (await session.execute(statement)).all()
    return [id_ for id_, types in rows if not types or event_type in types]


class WebhookEndpointRepository(Repository[WebhookEndpoint]):
    model = WebhookEndpoint

    async def list(self, page: PageRequest) -> tuple[Sequence[WebhookEndpoint], bool]:
        return await self.page(self.base_statement(), page)


class WebhookDeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    async def of_endpoint(
        self, endpoint_id: uuid.UUID, page: PageRequest, status: DeliveryStatus | None
    ) -> tuple[Sequence[Any], bool]:
        """The endpoint's deliveries, newest first, each with its event's id and type."""
        statement = self._deliveries_of(endpoint_id)
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status)
        rows = (await self.session.execute(paginate(statement, WebhookDelivery, page))).all()
        return rows[: page.limit], len(rows) > page.limit

    async def one_of_endpoint(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> Any:
        statement = self._deliveries_of(endpoint_id).where(WebhookDelivery.id == delivery_id)
        return (await self.session.execute(statement)).one_or_none()

    def _deliveries_of(self, endpoint_id: uuid.UUID) -> Select[WebhookDelivery, uuid.UUID, str]:
        """The endpoint's deliveries, each with its event's id and type."""
        return (
            select(WebhookDelivery, ChangeEvent.id, ChangeEvent.type)
            .join(ChangeEvent, ChangeEvent.seq == WebhookDelivery.event_seq)
            .where(
                WebhookDelivery.organization_id == self.organization_id,
                WebhookDelivery.endpoint_id == endpoint_id,
            )
        )


# The worker's queue ------------------------------------------------------------------------------

# The wake-up of the workers: a commit signal in this process, a NOTIFY for the others (PostgreSQL).
DELIVERIES_DUE = "ugs_webhook_deliveries"


async def announce_deliveries(session: AsyncSession) -> None:
    """Wakes the workers when the transaction that added deliveries commits: NOTIFY is held back by
    PostgreSQL until the commit (and dropped on a rollback), and sent once per transaction."""
    transaction = session.sync_session.get_transaction()
    if session.info.get(DELIVERIES_DUE) is transaction:
        return
    session.info[DELIVERIES_DUE] = transaction
    signal_on_commit(session, DELIVERIES_DUE)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(DELIVERIES_DUE, "")))


async def any_due(session: AsyncSession, now: datetime) -> bool:
    statement = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DeliveryStatus.pending, WebhookDelivery.next_attempt_at <= now)
        .limit(1)
    )
    return (await session.execute(statement)).first() is not None


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease_until: datetime, token: uuid.UUID
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Leases up to `limit` due deliveries: they are not due again before `lease_until`, so no
    other worker takes them meanwhile. On PostgreSQL rows another worker is claiming right now are
    skipped (SKIP LOCKED) rather than waited for; on SQLite claims are serialized by the write lock."""
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),  # a disabled endpoint's deliveries wait for it
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(next_attempt_at=lease_until, lease_token=token)
    )
    statement = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    return [(delivery, endpoint) for delivery, endpoint in (await session.execute(statement)).all()]


async def finish_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, token: uuid.UUID, values: dict[str, Any]
) -> bool:
    """Writes an attempt's outcome if the lease is still this worker's; False if it was lost."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_token == token)
        .values(lease_token=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_endpoint_failing(session: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> None:
    # failing_since is internal (not audited): the disabling it leads to is what is recorded.
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(**{AUDITED_BULK: True})
    )


async def mark_endpoint_working(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(**{AUDITED_BULK: True})
    )
