"""The tariff description of each session, written when the session starts

The sessions export wrote the `tariff` column from each session's tariff copy: on PostgreSQL a
join to the rendered distinct copies, which kept the whole statement out of the parallel workers
(1.2-1.5 s for 200,000 rows against 0.8 s without it), on SQLite a Python function per row. The
copy is fixed when the session starts, so its text is written then (`ChargingSession`'s column
default, `app.tariff_description.describe_tariff`) and the export reads it as a text column.

Existing sessions are described here, by the same function, once per distinct copy (sessions
share their tariff version's copy). Adding the column locks the table until this commits (on
PostgreSQL against reads too: a few seconds for 1,000,000 sessions), so no session is inserted
undescribed meanwhile; instances of the former code must be stopped before this runs, as for every
migration (README, "Choices where the spec is silent", Operations: the former release is not ready
on a migrated database).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tariff_description import describe_tariff

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DESCRIBED = sa.table("ugs_tariff_descriptions", sa.column("copy", sa.Text), sa.column("description", sa.Text))


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("charging_sessions", sa.Column("tariff_description", sa.Text(), nullable=True))
    copies = bind.exec_driver_sql(
        "SELECT DISTINCT CAST(tariff_snapshot AS TEXT) FROM charging_sessions"
        " WHERE tariff_snapshot IS NOT NULL"
    ).scalars()
    # A JSON null is no tariff, as NULL is: it keeps no description.
    described = ({"copy": text, "description": describe_tariff(json.loads(text))} for text in copies)
    rows = [row for row in described if row["description"] is not None]
    if not rows:
        return
    op.execute("CREATE TEMPORARY TABLE ugs_tariff_descriptions (copy TEXT PRIMARY KEY, description TEXT)")
    op.bulk_insert(DESCRIBED, rows)  # type: ignore[arg-type]
    op.execute(
        "UPDATE charging_sessions SET tariff_description = d.description FROM ugs_tariff_descriptions AS d"
        " WHERE CAST(charging_sessions.tariff_snapshot AS TEXT) = d.copy"
    )
    op.execute("DROP TABLE ugs_tariff_descriptions")


def downgrade() -> None:
    op.drop_column("charging_sessions", "tariff_description")
