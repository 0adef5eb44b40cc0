"""charging group connector counter

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:31:15.198145
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charging_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connector_count", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE charging_groups SET connector_count = (SELECT count(*) FROM connectors "
        "JOIN charge_points ON charge_points.id = connectors.charge_point_id "
        "WHERE charge_points.charging_group_id = charging_groups.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("charging_groups", schema=None) as batch_op:
        batch_op.drop_column("connector_count")
