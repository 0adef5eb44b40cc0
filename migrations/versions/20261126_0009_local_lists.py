"""OCPP local authorization lists per charging group

A list version per charging group and one entry per id tag a group lists (tombstones kept), filled
here with what every charging group lists now, at version 1 (app/services/local_lists.py).

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_list_heads",
        sa.Column("charging_group_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charging_group_id"],
            ["charging_groups.id"],
            name=op.f("fk_local_list_heads_charging_group_id_charging_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_local_list_heads_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charging_group_id", name=op.f("pk_local_list_heads")),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("charging_group_id", sa.Uuid(), nullable=False),
        sa.Column("id_tag", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charging_group_id"],
            ["charging_groups.id"],
            name=op.f("fk_local_list_entries_charging_group_id_charging_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_local_list_entries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charging_group_id", "id_tag", name=op.f("pk_local_list_entries")),
    )
    op.create_index(
        "ix_local_list_entries_group_version", "local_list_entries", ["charging_group_id", "version"]
    )
    op.create_index("ix_local_list_entries_org_id_tag", "local_list_entries", ["organization_id", "id_tag"])
    op.execute(
        "INSERT INTO local_list_heads (charging_group_id, organization_id, version) "
        "SELECT id, organization_id, 1 FROM charging_groups"
    )
    # The same rule as LocalListRepository.desired, over every charging group.
    op.execute(
        "INSERT INTO local_list_entries (charging_group_id, id_tag, organization_id, listed, blocked, "
        "valid_from, valid_until, version) "
        "SELECT cg.id, c.uid, c.organization_id, true, c.blocked, c.valid_from, c.valid_until, 1 "
        "FROM cards c JOIN user_groups ug ON ug.id = c.user_group_id "
        "JOIN charging_groups cg ON cg.organization_id = c.organization_id AND cg.access_control = true "
        "WHERE ug.status = 'active' AND (ug.activation_scope = 'all' OR EXISTS ("
        "SELECT 1 FROM activations a WHERE a.user_group_id = ug.id AND a.charging_group_id = cg.id))"
    )


def downgrade() -> None:
    op.drop_index("ix_local_list_entries_org_id_tag", table_name="local_list_entries")
    op.drop_index("ix_local_list_entries_group_version", table_name="local_list_entries")
    op.drop_table("local_list_entries")
    op.drop_table("local_list_heads")
