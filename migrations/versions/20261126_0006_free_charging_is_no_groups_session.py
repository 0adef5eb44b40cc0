"""free charging is no group's session

Sessions started where access control is off (decision reason `free_charging`) used to be
recorded under the card's user group, with its tariff and a cost, so the group counted them and
could never be deleted although nothing ran through its offer. They are no group's: group, tariff
and cost are cleared (the card, its UID and label stay), and their audit records leave the group's
history (they stay in the organization's trail). The downgrade keeps the corrected data.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE audit_events SET user_group_id = NULL WHERE entity_type = 'session' AND entity_id IN "
        "(SELECT id FROM charging_sessions "
        "WHERE decision_reason = 'free_charging' AND user_group_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE charging_sessions SET user_group_id = NULL, user_group_name = NULL, "
        "tariff_version_id = NULL, tariff_snapshot = NULL, cost = NULL, currency = NULL "
        "WHERE decision_reason = 'free_charging' AND user_group_id IS NOT NULL"
    )


def downgrade() -> None:
    """Nothing to undo: the old rows were wrong, and their group and cost are not wanted back."""
