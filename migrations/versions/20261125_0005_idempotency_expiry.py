"""idempotency records expire; the claim is written before the response

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 22:40:00
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Records written before expiry existed are kept for the default time (24 h) from creation;
    # the purge removes them after that.
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
    records = sa.table(
        "idempotency_records",
        sa.column("id", sa.Uuid()),
        sa.column("created_at", UTCDateTime()),
        sa.column("expires_at", UTCDateTime()),
    )
    connection = op.get_bind()
    for id_, created_at in connection.execute(sa.select(records.c.id, records.c.created_at)).all():
        connection.execute(
            records.update().where(records.c.id == id_).values(expires_at=created_at + timedelta(hours=24))
        )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("response_body", existing_type=sa.JSON(), nullable=True)
        batch_op.alter_column("response_headers", existing_type=sa.JSON(), nullable=True)
        batch_op.create_index("ix_idempotency_records_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_records WHERE status_code IS NULL")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_records_expires_at")
        batch_op.alter_column("response_headers", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("response_body", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("expires_at")
