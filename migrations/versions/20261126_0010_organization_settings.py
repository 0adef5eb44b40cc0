"""organization settings: the time zone of the session reports; sessions by start time

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization_settings",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_settings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_settings")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_organization_settings_organization_id")),
    )
    op.create_index(
        "ix_charging_sessions_org_started",
        "charging_sessions",
        ["organization_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_charging_sessions_org_started", table_name="charging_sessions")
    op.drop_table("organization_settings")
