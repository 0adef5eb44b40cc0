"""Every model, re-exported so Alembic sees the whole metadata."""

from app.models.audit import AuditEvent, IdempotencyRecord
from app.models.base import Base
from app.models.charging import ChargePoint, ChargingGroup, Connector
from app.models.organization import ApiKey, Organization

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "ChargePoint",
    "ChargingGroup",
    "Connector",
    "IdempotencyRecord",
    "Organization",
]
