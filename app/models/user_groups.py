"""User groups of type cards-only, their tariff versions, activations and cards."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.enums import ActivationScope, EntityType, QuotaPeriod, UserGroupStatus, UserGroupType
from app.models.base import (
    Audited,
    Base,
    CreatedAtMixin,
    IdMixin,
    TimestampsMixin,
    VersionedMixin,
    str_enum,
)
from app.tariff_description import describe_tariff

ORG_FK = "organizations.id"
LIST_COLUMNS = (
    "list_seq",
    "listed_user_group_id",
    "listed_blocked",
    "listed_valid_from",
    "listed_valid_until",
)


class UserGroup(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    __audit_entity__ = EntityType.user_group
    # name_key is name.casefold(): the name's own change says it all.
    __audit_internal__ = Audited.__audit_internal__ | {"name_key", "card_seq"}
    __tablename__ = "user_groups"
    __table_args__ = (
        # Names are unique per organization, compared case-insensitively (name_key = casefold).
        UniqueConstraint("organization_id", "name_key"),
        Index("ix_user_groups_org_status_created", "organization_id", "status", "created_at", "id"),
        Index("ix_user_groups_organization_id_created_at", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(400))  # casefold() can lengthen a name
    type: Mapped[UserGroupType] = mapped_column(str_enum(UserGroupType), default=UserGroupType.cards_only)
    status: Mapped[UserGroupStatus] = mapped_column(str_enum(UserGroupStatus), default=UserGroupStatus.active)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)
    activation_scope: Mapped[ActivationScope] = mapped_column(
        str_enum(ActivationScope), default=ActivationScope.custom
    )
    # OCPP local lists (app/services/local_lists.py): the list sequence at which one of the group's
    # cards last changed on the lists where the group is active.
    card_seq: Mapped[int] = mapped_column(default=0, server_default="0")


class UserGroupTally(Base):
    """A group's card and session counts (the table `user_group_counts`; the list item's counts box
    is the schema `UserGroupCounts`), kept by the database itself: triggers on cards,
    charging_sessions and user_groups (migration 0014, which says why each is written as it is)
    update them in the statement that adds, moves or removes a card or records a session,
    whatever wrote it. The list and the group page read them instead of counting: a count per item
    was an index range as long as the group's cards and sessions, and sessions only ever grow.

    Not audited: the cards and sessions themselves are. A row of its own, not columns on the
    group, so that writing a count neither moves the group's version (its ETag) nor needs the
    group's row, which a session start holds FOR SHARE (two starts would deadlock upgrading it)."""

    __tablename__ = "user_group_counts"

    user_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    card_count: Mapped[int] = mapped_column(default=0, server_default="0")
    session_count: Mapped[int] = mapped_column(default=0, server_default="0")


class TariffVersion(Audited, IdMixin, CreatedAtMixin, Base):
    """One row per tariff change. The current tariff is the row with `valid_until` NULL; a session
    keeps the version in force when it started."""

    __audit_entity__ = EntityType.tariff

    __tablename__ = "tariff_versions"
    __table_args__ = (
        Index(
            "uq_tariff_versions_current",
            "user_group_id",
            unique=True,
            sqlite_where=text("valid_until IS NULL"),
            postgresql_where=text("valid_until IS NULL"),
        ),
        Index("ix_tariff_versions_group_created", "user_group_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    user_group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    price_per_kwh: Mapped[Decimal]
    session_fee: Mapped[Decimal | None] = mapped_column(default=None)
    parking_fee_per_hour: Mapped[Decimal | None] = mapped_column(default=None)
    parking_grace_minutes: Mapped[int | None] = mapped_column(default=None)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(default=None)


class UserGroupRules(Audited, IdMixin, CreatedAtMixin, Base):
    """The optional guest rules of a group, one row per version (like the tariff): the current set
    is the row with `valid_until` NULL. Every rule is a nullable column: NULL is "not set"."""

    __audit_entity__ = EntityType.user_group_rules

    __tablename__ = "user_group_rules"
    __table_args__ = (
        Index(
            "uq_user_group_rules_current",
            "user_group_id",
            unique=True,
            sqlite_where=text("valid_until IS NULL"),
            postgresql_where=text("valid_until IS NULL"),
        ),
        Index("ix_user_group_rules_group_created", "user_group_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    user_group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    group_valid_from: Mapped[datetime | None] = mapped_column(default=None)
    group_valid_until: Mapped[datetime | None] = mapped_column(default=None)
    card_validity_hours: Mapped[int | None] = mapped_column(default=None)
    allowed_weekdays: Mapped[int | None] = mapped_column(default=None)  # bit 0 Monday .. bit 6 Sunday
    allowed_from_minute: Mapped[int | None] = mapped_column(default=None)  # local minutes since 00:00
    allowed_until_minute: Mapped[int | None] = mapped_column(default=None)
    allowed_plug_types: Mapped[str | None] = mapped_column(String(100), default=None)  # comma-separated
    max_power_kw: Mapped[Decimal | None] = mapped_column(default=None)
    max_concurrent_sessions: Mapped[int | None] = mapped_column(default=None)
    quota_period: Mapped[QuotaPeriod | None] = mapped_column(str_enum(QuotaPeriod), default=None)
    card_energy_kwh: Mapped[Decimal | None] = mapped_column(default=None)
    card_sessions: Mapped[int | None] = mapped_column(default=None)
    group_energy_kwh: Mapped[Decimal | None] = mapped_column(default=None)
    group_sessions: Mapped[int | None] = mapped_column(default=None)


class Activation(CreatedAtMixin, Base):
    """A user group active on one charging group (used when the group's scope is `custom`)."""

    __tablename__ = "activations"
    __table_args__ = (Index("ix_activations_charging_group_id", "charging_group_id"),)

    user_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charging_groups.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))


class Card(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    __audit_entity__ = EntityType.card
    # Set by a session start, whose own record names them (`card_first_used_at`); the `listed_*`
    # columns and `list_seq` are the OCPP local lists' bookkeeping, derived from audited changes.
    __audit_internal__ = Audited.__audit_internal__ | {"first_used_at", "expires_at", *LIST_COLUMNS}
    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("organization_id", "uid"),
        Index("ix_cards_group_created", "user_group_id", "created_at", "id"),
        Index("ix_cards_organization_id_created_at", "organization_id", "created_at", "id"),
        # A local-list differential finds the cards changed since a list version.
        Index("ix_cards_organization_list_seq", "organization_id", "list_seq"),
        CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from", name="validity_order"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    user_group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_groups.id", ondelete="RESTRICT"))
    uid: Mapped[str] = mapped_column(String(36))
    label: Mapped[str | None] = mapped_column(String(100), default=None)
    printed_number: Mapped[str | None] = mapped_column(String(50), default=None)
    valid_from: Mapped[datetime | None] = mapped_column(default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    blocked: Mapped[bool] = mapped_column(default=False)
    # Set once, by the first session start the decision accepts (app/services/sessions.py), with
    # the end that the group's "valid for N hours after first use" rule gave it then.
    first_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the OCPP local lists last published for this card (app/services/local_lists.py): the
    # user group it was listed under and its facts there (its own validity bounded by the group's
    # window), and the list sequence of that change. NULL user group: not published yet.
    list_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    listed_user_group_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    listed_blocked: Mapped[bool | None] = mapped_column(default=None)
    listed_valid_from: Mapped[datetime | None] = mapped_column(default=None)
    listed_valid_until: Mapped[datetime | None] = mapped_column(default=None)


def _described_tariff(context: DefaultExecutionContext) -> str | None:
    """The description of the tariff copy the inserted row carries (whatever issues the insert)."""
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return describe_tariff(parameters.get("tariff_snapshot"))


class ChargingSession(Audited, IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A charging session reported by the charge-point backend, documented with the tariff in
    force when it started. Names and ids are copied, so the record outlives cards and connectors."""

    __audit_entity__ = EntityType.session
    # The description is the tariff copy's text, written with it: the copy is in the record.
    __audit_internal__ = Audited.__audit_internal__ | {"tariff_description"}

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("organization_id", "transaction_id"),
        Index("ix_charging_sessions_user_group_id", "user_group_id"),
        Index("ix_charging_sessions_organization_id_created_at", "organization_id", "created_at", "id"),
        Index("ix_charging_sessions_card_id", "card_id"),
        # The guest rules count a card's and a group's sessions of a period (the decision's facts).
        Index("ix_charging_sessions_card_started", "card_id", "started_at"),
        Index("ix_charging_sessions_group_started", "user_group_id", "started_at"),
        Index("ix_charging_sessions_connector_id", "connector_id"),
        Index("ix_charging_sessions_charging_group_id", "charging_group_id"),
        # Session reports read a time range of the organization's sessions.
        Index("ix_charging_sessions_org_started", "organization_id", "started_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    transaction_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    id_token: Mapped[str] = mapped_column(String(64))  # as long as the input allows: never cut
    card_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cards.id", ondelete="SET NULL"), default=None
    )
    card_label: Mapped[str | None] = mapped_column(String(100), default=None)
    user_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_groups.id", ondelete="RESTRICT"), default=None
    )
    user_group_name: Mapped[str | None] = mapped_column(String(100), default=None)
    connector_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL"), default=None
    )
    evse_id: Mapped[str] = mapped_column(String(48))
    charging_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("charging_groups.id", ondelete="SET NULL"), default=None
    )
    charging_group_name: Mapped[str] = mapped_column(String(100))
    tariff_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tariff_versions.id", ondelete="RESTRICT"), default=None
    )
    tariff_snapshot: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The copy as one line of text (the export's `tariff` column), written when the row is inserted:
    # the copy never changes, and the export reads text at the database's speed where rendering
    # the copy per row kept PostgreSQL from using its parallel workers (docs/performance.md).
    tariff_description: Mapped[str | None] = mapped_column(Text, default=_described_tariff)

    @validates("tariff_snapshot")
    def _describe_copy(self, _key: str, snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
        """A copy set on the object (a new session, or any later change) carries its text along."""
        self.tariff_description = describe_tariff(snapshot)
        return snapshot

    decision_status: Mapped[str] = mapped_column(String(32))
    decision_reason: Mapped[str] = mapped_column(String(64))
    # Wh meter readings are cumulative over a charger's life: beyond 32 bits.
    meter_start_wh: Mapped[int] = mapped_column(BigInteger)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger, default=None)
    started_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    energy_kwh: Mapped[Decimal | None] = mapped_column(default=None)
    cost: Mapped[Decimal | None] = mapped_column(default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
