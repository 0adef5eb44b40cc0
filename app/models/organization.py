import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.enums import EntityType, Role
from app.models.base import Audited, Base, CreatedAtMixin, IdMixin, str_enum, utcnow


class Organization(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Kept in step by the infrastructure writes, so "the whole infrastructure" (activation scope
    # all) is counted in constant time whatever the organization's size.
    charging_group_count: Mapped[int] = mapped_column(default=0, server_default="0")
    connector_count: Mapped[int] = mapped_column(default=0, server_default="0")


class ApiKey(Audited, IdMixin, CreatedAtMixin, Base):
    """A bearer key: `ugs_<prefix>_<secret>`; only the SHA-256 of the whole key is stored."""

    __audit_entity__ = EntityType.api_key
    # The hash of a secret stays out of the trail, which every viewer key may read.
    __audit_internal__ = Audited.__audit_internal__ | {"key_hash"}

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_organization_id_created_at", "organization_id", "created_at", "id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class OrganizationSettings(Audited, IdMixin, CreatedAtMixin, Base):
    """The organization's own settings, one row per organization, written on the first change
    (until then every setting has its default, which the API shows). Kept apart from
    `organizations`, whose counters change with every infrastructure write."""

    __audit_entity__ = EntityType.organization
    __tablename__ = "organization_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    # An IANA zone name (zoneinfo): the day, week and month boundaries of the session reports.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
