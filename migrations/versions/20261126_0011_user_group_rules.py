"""guest rules per user group (versioned), a card's first use, session indexes for the rules

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import ExactDecimal, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_group_rules",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_group_id", sa.Uuid(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("group_valid_from", UTCDateTime(), nullable=True),
        sa.Column("group_valid_until", UTCDateTime(), nullable=True),
        sa.Column("card_validity_hours", sa.Integer(), nullable=True),
        sa.Column("allowed_weekdays", sa.Integer(), nullable=True),
        sa.Column("allowed_from_minute", sa.Integer(), nullable=True),
        sa.Column("allowed_until_minute", sa.Integer(), nullable=True),
        sa.Column("allowed_plug_types", sa.String(length=100), nullable=True),
        sa.Column("max_power_kw", ExactDecimal(), nullable=True),
        sa.Column("max_concurrent_sessions", sa.Integer(), nullable=True),
        sa.Column(
            "quota_period",
            sa.Enum("day", "week", "month", name="quotaperiod", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("card_energy_kwh", ExactDecimal(), nullable=True),
        sa.Column("card_sessions", sa.Integer(), nullable=True),
        sa.Column("group_energy_kwh", ExactDecimal(), nullable=True),
        sa.Column("group_sessions", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_user_group_rules_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_group_id"],
            ["user_groups.id"],
            name=op.f("fk_user_group_rules_user_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_group_rules")),
    )
    op.create_index(
        "ix_user_group_rules_group_created", "user_group_rules", ["user_group_id", "created_at", "id"]
    )
    op.create_index(
        "uq_user_group_rules_current",
        "user_group_rules",
        ["user_group_id"],
        unique=True,
        sqlite_where=sa.text("valid_until IS NULL"),
        postgresql_where=sa.text("valid_until IS NULL"),
    )
    # Plain ALTER TABLE on both databases: a batch rebuild of `cards` on SQLite would drop the old
    # table, and with it (ON DELETE SET NULL) the card of every session.
    op.add_column("cards", sa.Column("first_used_at", UTCDateTime(), nullable=True))
    op.add_column("cards", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.create_index("ix_charging_sessions_card_started", "charging_sessions", ["card_id", "started_at"])
    op.create_index(
        "ix_charging_sessions_group_started", "charging_sessions", ["user_group_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_charging_sessions_group_started", table_name="charging_sessions")
    op.drop_index("ix_charging_sessions_card_started", table_name="charging_sessions")
    op.drop_column("cards", "expires_at")
    op.drop_column("cards", "first_used_at")
    op.drop_index("uq_user_group_rules_current", table_name="user_group_rules")
    op.drop_index("ix_user_group_rules_group_created", table_name="user_group_rules")
    op.drop_table("user_group_rules")
