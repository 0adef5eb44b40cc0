"""OCPP local authorization lists, kept per charging group (app/services/local_lists.py).

`LocalListHead` holds a charging group's list version; `LocalListEntry` one id tag's entry on that
list: the card facts its status is read from, whether it is on the list (`listed`; False is a
tombstone, the removal a differential must send) and the list version at which it last changed.
A differential since version N is the entries with `version > N`: an index range on
(charging_group_id, version), whatever the size of the list.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

CHARGING_GROUP_FK = "charging_groups.id"


class LocalListHead(Base):
    __tablename__ = "local_list_heads"

    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(CHARGING_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)


class LocalListEntry(Base):
    __tablename__ = "local_list_entries"
    __table_args__ = (
        Index("ix_local_list_entries_group_version", "charging_group_id", "version"),
        # A card change finds its entries on every charging group by its UID.
        Index("ix_local_list_entries_org_id_tag", "organization_id", "id_tag"),
    )

    charging_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(CHARGING_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    id_tag: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    listed: Mapped[bool]
    blocked: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[datetime | None] = mapped_column(default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int]
