"""The change feed's queries (see app/models/events.py for the order it relies on)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Text, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, ChangeEvent
from app.pagination import FeedPosition


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def current_txid(session: AsyncSession) -> ColumnElement[int]:
    """The writing transaction's id on PostgreSQL (assigned when it first writes), 0 on SQLite."""
    if is_postgres(session):
        return cast(cast(func.pg_current_xact_id(), Text), BigInteger)
    return literal(0, BigInteger)


def _visible_horizon() -> ColumnElement[int]:
    """Every transaction with a smaller id has ended (committed or rolled back) as this statement
    sees the database: events below it are all there is below it, now and later."""
    return cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


async def feed_after(
    session: AsyncSession,
    organization_id: uuid.UUID,
    position: FeedPosition,
    limit: int,
    types: Sequence[str] = (),
) -> Sequence[Any]:
    """The organization's events after `position`, oldest first, each with its audit record."""
    statement = (
        select(ChangeEvent, AuditEvent)
        .join(AuditEvent, AuditEvent.id == ChangeEvent.audit_event_id)
        .where(
            ChangeEvent.organization_id == organization_id,
            or_(
                ChangeEvent.txid > position.txid,
                and_(ChangeEvent.txid == position.txid, ChangeEvent.seq > position.seq),
            ),
        )
    )
    if types:
        statement = statement.where(ChangeEvent.type.in_(list(types)))
    if is_postgres(session):
        statement = statement.where(ChangeEvent.txid < _visible_horizon())
    statement = statement.order_by(ChangeEvent.txid, ChangeEvent.seq).limit(limit)
    return (await session.execute(statement)).all()


async def get_events(session: AsyncSession, seqs: Sequence[int]) -> dict[int, Any]:
    """Events by number, each with its audit record (for the webhook worker)."""
    statement = (
        select(ChangeEvent, AuditEvent)
        .join(AuditEvent, AuditEvent.id == ChangeEvent.audit_event_id)
        .where(ChangeEvent.seq.in_(list(seqs)))
    )
    rows = (await session.execute(statement)).tuples().all()
    return {change.seq: (change, audit_event) for change, audit_event in rows}
