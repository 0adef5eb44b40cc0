"""unknown cards: refused UIDs per charging group (the last 1,000 per organization); learning modes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learning_modes",
        sa.Column("user_group_id", sa.Uuid(), nullable=False),
        sa.Column("charging_group_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charging_group_id"],
            ["charging_groups.id"],
            name=op.f("fk_learning_modes_charging_group_id_charging_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_learning_modes_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_group_id"],
            ["user_groups.id"],
            name=op.f("fk_learning_modes_user_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_group_id", "charging_group_id", name=op.f("pk_learning_modes")),
    )
    with op.batch_alter_table("learning_modes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_learning_modes_charging_group_ends", ["charging_group_id", "ends_at"], unique=False
        )

    op.create_table(
        "unknown_cards",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("charging_group_id", sa.Uuid(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("seen_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charging_group_id"],
            ["charging_groups.id"],
            name=op.f("fk_unknown_cards_charging_group_id_charging_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_unknown_cards_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unknown_cards")),
        sa.UniqueConstraint(
            "organization_id",
            "uid",
            "charging_group_id",
            name=op.f("uq_unknown_cards_organization_id_uid_charging_group_id"),
        ),
    )
    with op.batch_alter_table("unknown_cards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unknown_cards_org_last_seen", ["organization_id", "last_seen_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("unknown_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_unknown_cards_org_last_seen")

    op.drop_table("unknown_cards")
    with op.batch_alter_table("learning_modes", schema=None) as batch_op:
        batch_op.drop_index("ix_learning_modes_charging_group_ends")

    op.drop_table("learning_modes")
