"""The change feed and the webhooks that push it (docs/adr-002-change-feed-and-webhooks.md)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.enums import DeliveryStatus, EntityType
from app.models.base import Audited, Base, IdMixin, TimestampsMixin, VersionedMixin, str_enum, utcnow

# An integer key on both databases: SQLite's INTEGER PRIMARY KEY, PostgreSQL's BIGINT identity.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")


class ChangeEvent(Base):
    """One change, written by `audit.record` in the transaction of the change.

    `seq` orders the events of one transaction (and all of them on SQLite, where writers are
    serialized, so insert order is commit order). `txid` is the writing transaction's id on
    PostgreSQL (pg_current_xact_id), 0 on SQLite; the feed is ordered by (txid, seq) and shows only
    transactions older than every one still running, so nothing can later appear before a cursor.
    """

    __tablename__ = "change_events"
    __table_args__ = (
        Index("ix_change_events_org_position", "organization_id", "txid", "seq"),
        {"sqlite_autoincrement": True},  # never reuse a number, even after the newest row is gone
    )

    seq: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    txid: Mapped[int] = mapped_column(BigInteger)
    organization_id: Mapped[uuid.UUID]
    audit_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audit_events.id"))
    type: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    """Where an organization wants its events pushed. The signing secret is stored encrypted
    (app/services/webhook_secrets.py), never in clear, and is shown once, at creation."""

    __audit_entity__ = EntityType.webhook_endpoint
    # The ciphertext says nothing to a reader of the trail; failing_since moves with every failure.
    __audit_internal__ = Audited.__audit_internal__ | {"secret_ciphertext", "failing_since"}

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_org_created", "organization_id", "created_at", "id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    # AuditAction values; empty means every event type.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # The first failed attempt since the last success: the endpoint is disabled when it is old.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(IdMixin, Base):
    """One event for one endpoint, created with the event (same transaction) when the endpoint
    subscribes to its type: an event committed is an event that will be delivered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID]
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_seq: Mapped[int] = mapped_column(SEQUENCE, ForeignKey("change_events.seq"))
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    # When the next try is due; while a worker holds the delivery, when its lease ends.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[uuid.UUID | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
