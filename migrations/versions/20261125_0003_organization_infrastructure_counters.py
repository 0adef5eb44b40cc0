"""organization infrastructure counters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:49:50.176824
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("charging_group_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("connector_count", sa.Integer(), server_default="0", nullable=False))
    # Existing organizations start from what they have.
    op.execute(
        "UPDATE organizations SET "
        "charging_group_count = (SELECT count(*) FROM charging_groups "
        "WHERE charging_groups.organization_id = organizations.id), "
        "connector_count = (SELECT count(*) FROM connectors "
        "WHERE connectors.organization_id = organizations.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("connector_count")
        batch_op.drop_column("charging_group_count")
