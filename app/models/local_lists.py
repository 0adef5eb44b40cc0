"""OCPP local authorization lists, kept per charging group (app/services/local_lists.py).

Nothing here holds a list: a charging group's list is read from the cards of the user groups
active on it. What is kept is when things changed, as numbers of one sequence per organization
(`LocalListClock`), so that a list version and a differential can be derived:

* `LocalListHead`: per charging group, the sequence of the last change made to its list as a whole
  (`version`: access control, a user group starting or ceasing to be active there), from when a
  differential is no longer possible (`full_since`) and when access control last switched on
  (`on_since`).
* `cards.list_seq` and `user_groups.card_seq` (app/models/user_groups.py): a card's last change on
  the lists, and the last such change among a user group's cards.
* `LocalListRemoval`: a card that left a user group (removed or moved away), so a differential can
  send its removal.
* `LocalListMembership`: a user group that started or ceased to be active on a charging group, so a
  differential can send all of its cards.
"""

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

CHARGING_GROUP_FK = "charging_groups.id"
ORGANIZATION_FK = "organizations.id"


class LocalListClock(Base):
    __tablename__ = "local_list_clocks"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(ORGANIZATION_FK, ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int]


class LocalListHead(Base):
    __tablename__ = "local_list_heads"

    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(CHARGING_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORGANIZATION_FK, ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=0)
    full_since: Mapped[int] = mapped_column(default=0, server_default="0")
    on_since: Mapped[int] = mapped_column(default=0, server_default="0")


class LocalListRemoval(Base):
    __tablename__ = "local_list_removals"
    __table_args__ = (Index("ix_local_list_removals_org_seq", "organization_id", "seq"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(ORGANIZATION_FK, ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: the record outlives a deleted user group.
    user_group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id_tag: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int]


class LocalListMembership(Base):
    __tablename__ = "local_list_memberships"
    __table_args__ = (Index("ix_local_list_memberships_group_seq", "charging_group_id", "seq"),)

    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(CHARGING_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: the record outlives a deleted user group.
    user_group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORGANIZATION_FK, ondelete="CASCADE"))
    seq: Mapped[int]
