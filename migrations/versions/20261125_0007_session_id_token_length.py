"""session id_token as long as the input allows

A backend may report a token of up to 64 characters (the API's limit, wider than OCPP 2.0.1's 36
to allow separators); an unknown one is recorded as sent, so the column holds 64 instead of
cutting it silently at 36.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "id_token",
            existing_type=sa.String(length=36),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The older schema cannot hold longer tokens: they are cut, as that release did on input.
    op.execute("UPDATE charging_sessions SET id_token = substr(id_token, 1, 36) WHERE length(id_token) > 36")
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "id_token",
            existing_type=sa.String(length=64),
            type_=sa.String(length=36),
            existing_nullable=False,
        )
