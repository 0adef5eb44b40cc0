import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """Append-only history. Names are copied into the values so an entry reads on its own,
    and there are no foreign keys: the trail outlives what it describes."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_created", "organization_id", "created_at", "id"),
        Index("ix_audit_events_org_entity", "organization_id", "entity_id", "created_at", "id"),
        Index("ix_audit_events_org_user_group", "organization_id", "user_group_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID]
    actor_api_key_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    user_group_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(IdMixin, Base):
    """An Idempotency-Key claimed by a changing POST, and the first response to replay to a retry.

    The claim and the response are written in the transaction of the change itself, so a record
    exists exactly when the change committed. Nothing secret is stored (see app/routers/route.py).
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (
        Index("uq_idempotency_records_org_key", "organization_id", "key", unique=True),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    organization_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    response_headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
