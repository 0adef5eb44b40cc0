"""OCPP local lists kept by change sequence instead of one entry per charging group and card

The per-(charging group, card) entries grew as cards x charging groups (a user group active on
all of 2,000 charging groups wrote 2,000 rows per card added). Lists are now read from the cards
themselves; what is kept is when things changed (app/services/local_lists.py): one sequence per
organization, the facts last published per card, the last card change per user group, removals
and changes of where user groups are active.

Existing chargers hold versions of the old numbering: every charging group's head starts at a
number above all of them with `full_since` there, so their next request gets the full list.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOCK = "(SELECT c.seq FROM local_list_clocks c WHERE c.organization_id = local_list_heads.organization_id)"
# A card's validity bounded by its group's current validity window (a guest rule), as
# app/repositories/local_lists.py reads it.
PUBLISH_CARDS = """
UPDATE cards SET
    listed_user_group_id = cards.user_group_id,
    listed_blocked = cards.blocked,
    listed_valid_from = CASE
        WHEN w.group_valid_from IS NOT NULL
            AND (cards.valid_from IS NULL OR w.group_valid_from > cards.valid_from)
        THEN w.group_valid_from ELSE cards.valid_from END,
    listed_valid_until = CASE
        WHEN w.group_valid_until IS NOT NULL
            AND (cards.valid_until IS NULL OR w.group_valid_until < cards.valid_until)
        THEN w.group_valid_until ELSE cards.valid_until END
FROM (
    SELECT g.id AS group_id, r.group_valid_from, r.group_valid_until
    FROM user_groups g LEFT JOIN user_group_rules r ON r.user_group_id = g.id AND r.valid_until IS NULL
) AS w
WHERE w.group_id = cards.user_group_id
"""


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_organization_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.drop_index("ix_local_list_entries_org_id_tag", table_name="local_list_entries")
    op.drop_index("ix_local_list_entries_group_version", table_name="local_list_entries")
    op.drop_table("local_list_entries")
    op.create_table(
        "local_list_clocks",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _organization_fk("local_list_clocks"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_local_list_clocks")),
    )
    op.create_table(
        "local_list_removals",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_group_id", sa.Uuid(), nullable=False),
        sa.Column("id_tag", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _organization_fk("local_list_removals"),
        sa.PrimaryKeyConstraint(
            "organization_id", "user_group_id", "id_tag", name=op.f("pk_local_list_removals")
        ),
    )
    op.create_index("ix_local_list_removals_org_seq", "local_list_removals", ["organization_id", "seq"])
    op.create_table(
        "local_list_memberships",
        sa.Column("charging_group_id", sa.Uuid(), nullable=False),
        sa.Column("user_group_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charging_group_id"],
            ["charging_groups.id"],
            name=op.f("fk_local_list_memberships_charging_group_id_charging_groups"),
            ondelete="CASCADE",
        ),
        _organization_fk("local_list_memberships"),
        sa.PrimaryKeyConstraint("charging_group_id", "user_group_id", name=op.f("pk_local_list_memberships")),
    )
    op.create_index(
        "ix_local_list_memberships_group_seq", "local_list_memberships", ["charging_group_id", "seq"]
    )
    with op.batch_alter_table("local_list_heads") as batch:
        batch.add_column(sa.Column("full_since", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("on_since", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("user_groups") as batch:
        batch.add_column(sa.Column("card_seq", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("list_seq", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("listed_user_group_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("listed_blocked", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("listed_valid_from", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("listed_valid_until", UTCDateTime(), nullable=True))
    op.create_index("ix_cards_organization_list_seq", "cards", ["organization_id", "list_seq"])

    # Every organization's sequence starts above every version its chargers may hold.
    op.execute(
        "INSERT INTO local_list_clocks (organization_id, seq) "
        "SELECT o.id, COALESCE((SELECT MAX(h.version) FROM local_list_heads h "
        "WHERE h.organization_id = o.id), 0) + 1 FROM organizations o"
    )
    op.execute(
        "INSERT INTO local_list_heads (charging_group_id, organization_id, version) "
        "SELECT cg.id, cg.organization_id, 0 FROM charging_groups cg "
        "WHERE NOT EXISTS (SELECT 1 FROM local_list_heads h WHERE h.charging_group_id = cg.id)"
    )
    op.execute(
        "UPDATE local_list_heads SET "  # noqa: S608 (constant text)
        f"version = {CLOCK}, full_since = {CLOCK}, on_since = {CLOCK}"
    )
    # What the lists hold now counts as published (at sequence 0, before every head).
    op.execute(PUBLISH_CARDS)


def downgrade() -> None:
    op.drop_index("ix_cards_organization_list_seq", table_name="cards")
    with op.batch_alter_table("cards") as batch:
        for column in (
            "listed_valid_until",
            "listed_valid_from",
            "listed_blocked",
            "listed_user_group_id",
            "list_seq",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("user_groups") as batch:
        batch.drop_column("card_seq")
    with op.batch_alter_table("local_list_heads") as batch:
        batch.drop_column("on_since")
        batch.drop_column("full_since")
    op.drop_index("ix_local_list_memberships_group_seq", table_name="local_list_memberships")
    op.drop_table("local_list_memberships")
    op.drop_index("ix_local_list_removals_org_seq", table_name="local_list_removals")
    op.drop_table("local_list_removals")
    op.drop_table("local_list_clocks")
    # The entries of 0009, refilled the same way (version 1 for every charging group).
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
        _organization_fk("local_list_entries"),
        sa.PrimaryKeyConstraint("charging_group_id", "id_tag", name=op.f("pk_local_list_entries")),
    )
    op.create_index(
        "ix_local_list_entries_group_version", "local_list_entries", ["charging_group_id", "version"]
    )
    op.create_index("ix_local_list_entries_org_id_tag", "local_list_entries", ["organization_id", "id_tag"])
    op.execute("UPDATE local_list_heads SET version = 1")
    op.execute(
        "INSERT INTO local_list_entries (charging_group_id, id_tag, organization_id, listed, blocked, "
        "valid_from, valid_until, version) "
        "SELECT cg.id, c.uid, c.organization_id, true, c.blocked, c.valid_from, c.valid_until, 1 "
        "FROM cards c JOIN user_groups ug ON ug.id = c.user_group_id "
        "JOIN charging_groups cg ON cg.organization_id = c.organization_id AND cg.access_control = true "
        "WHERE ug.status = 'active' AND (ug.activation_scope = 'all' OR EXISTS ("
        "SELECT 1 FROM activations a WHERE a.user_group_id = ug.id AND a.charging_group_id = cg.id))"
    )
