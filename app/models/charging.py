"""Charging infrastructure: charging groups, charge points, connectors."""

import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.enums import ChargePointRole, EntityType, PlugType
from app.models.base import Audited, Base, IdMixin, TimestampsMixin, VersionedMixin, str_enum


class ChargingGroup(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    """One controller charge point plus its extenders; access control is decided here."""

    __audit_entity__ = EntityType.charging_group
    # connector_count follows the connectors, whose own records say what changed.
    __audit_internal__ = Audited.__audit_internal__ | {"connector_count"}

    __tablename__ = "charging_groups"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        Index("ix_charging_groups_organization_id_created_at", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    location_label: Mapped[str | None] = mapped_column(String(200), default=None)
    access_control: Mapped[bool] = mapped_column(default=False)
    # Kept in step by connector writes (like the organization's counters), so a user group's
    # connector total is a sum over its activations, not a walk over every connector.
    connector_count: Mapped[int] = mapped_column(default=0, server_default="0")


class ChargePoint(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    __audit_entity__ = EntityType.charge_point
    __tablename__ = "charge_points"
    __table_args__ = (
        UniqueConstraint("organization_id", "identity"),
        Index("ix_charge_points_organization_id_created_at", "organization_id", "created_at", "id"),
        # A charging group has at most one controller.
        Index(
            "uq_charge_points_one_controller",
            "charging_group_id",
            unique=True,
            sqlite_where=text("role = 'controller'"),
            postgresql_where=text("role = 'controller'"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charging_groups.id", ondelete="RESTRICT"), index=True
    )
    identity: Mapped[str] = mapped_column(String(64))
    role: Mapped[ChargePointRole] = mapped_column(str_enum(ChargePointRole))


class Connector(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    __audit_entity__ = EntityType.connector
    __tablename__ = "connectors"
    __table_args__ = (
        UniqueConstraint("organization_id", "evse_id"),
        UniqueConstraint("charge_point_id", "connector_number"),
        CheckConstraint("connector_number >= 1", name="connector_number_positive"),
        Index("ix_connectors_organization_id_created_at", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    charge_point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charge_points.id", ondelete="RESTRICT"))
    connector_number: Mapped[int]
    evse_id: Mapped[str] = mapped_column(String(48))
    plug_type: Mapped[PlugType] = mapped_column(str_enum(PlugType))
    max_power_kw: Mapped[Decimal]
