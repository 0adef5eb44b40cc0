"""Unknown cards (refused UIDs seen at a charging group) and user groups' learning modes."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin

ORG_FK = "organizations.id"


class UnknownCard(IdMixin, CreatedAtMixin, Base):
    """A UID refused as unknown at a charging group: observation, not configuration, so it is not
    audited (adding it to a group is). At most UNKNOWN_CARDS_KEPT per organization, the most
    recently seen; written in batches after the answers (app/services/unknown_cards.py)."""

    __tablename__ = "unknown_cards"
    __table_args__ = (
        UniqueConstraint("organization_id", "uid", "charging_group_id"),
        Index("ix_unknown_cards_org_last_seen", "organization_id", "last_seen_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(36))
    charging_group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charging_groups.id", ondelete="CASCADE"))
    last_seen_at: Mapped[datetime]
    seen_count: Mapped[int] = mapped_column(default=1)


class LearningMode(CreatedAtMixin, Base):
    """A user group learning unknown UIDs at one charging group until `ends_at`: one row per
    charging group of the group's learning mode (all with the same times)."""

    __tablename__ = "learning_modes"
    __table_args__ = (Index("ix_learning_modes_charging_group_ends", "charging_group_id", "ends_at"),)

    user_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charging_groups.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ends_at: Mapped[datetime]
