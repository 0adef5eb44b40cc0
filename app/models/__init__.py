"""Every model, re-exported so Alembic sees the whole metadata."""

from app.models.audit import AuditEvent, IdempotencyRecord
from app.models.base import Base
from app.models.charging import ChargePoint, ChargingGroup, Connector
from app.models.events import ChangeEvent, WebhookDelivery, WebhookEndpoint
from app.models.local_lists import LocalListClock, LocalListHead, LocalListMembership, LocalListRemoval
from app.models.organization import ApiKey, Organization, OrganizationSettings
from app.models.unknown_cards import LearningMode, UnknownCard
from app.models.user_groups import (
    Activation,
    Card,
    ChargingSession,
    TariffVersion,
    UserGroup,
    UserGroupRules,
    UserGroupTally,
)

__all__ = [
    "Activation",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Card",
    "ChangeEvent",
    "ChargePoint",
    "ChargingGroup",
    "ChargingSession",
    "Connector",
    "IdempotencyRecord",
    "LearningMode",
    "LocalListClock",
    "LocalListHead",
    "LocalListMembership",
    "LocalListRemoval",
    "Organization",
    "OrganizationSettings",
    "TariffVersion",
    "UnknownCard",
    "UserGroup",
    "UserGroupRules",
    "UserGroupTally",
    "WebhookDelivery",
    "WebhookEndpoint",
]
