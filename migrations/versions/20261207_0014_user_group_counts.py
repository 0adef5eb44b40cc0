"""Card and session counts per user group, kept by triggers

The user-group list and the group page counted each group's cards and sessions per request: an
index range as long as the group's cards and sessions (sessions only ever grow), 50 of them per
page. The counts are now one row per group in `user_group_counts`, written by the database in the
statement that changes them, whatever issued it (the API's single and bulk writes, the ORM's
flushes, a cascade, the bench's data generator):

* PostgreSQL: statement-level triggers with transition tables, so a bulk statement (10,000 cards
  of one CSV upload) updates each group's row once. Row-level triggers updated the same row once
  per card, and each update walks the row's versions written before it in the transaction:
  10,000 rows took 0.9 s where the statement-level trigger takes 30 ms (measured here on tables
  of the same shape). A column
  list (`UPDATE OF user_group_id`) is not allowed with transition tables, so the update trigger
  runs for every update of a card or session; with nothing moved it changes no row (about 40 us
  per statement, measured).
* SQLite: row-level triggers (SQLite updates a row in place: no versions to walk).

A row lock on the group's counts is held from the statement to the commit: two session starts of
one group at the same moment write their counts one after the other.

On SQLite a batch migration that recreates cards, charging_sessions or user_groups drops their
triggers with the old table: such a migration must run `create_triggers` of this module again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, counts column): the rows whose user_group_id is counted.
COUNTED = (("cards", "card_count"), ("charging_sessions", "session_count"))
FUNCTION = "ugs_user_group_counts"

# One function for both tables: TG_ARGV[0] names the counts column. Per group, `moved` is the
# number of rows the statement brought into it less the number it took out.
_ADD_MOVED = """
        UPDATE user_group_counts AS c SET
            card_count = c.card_count + CASE WHEN cards THEN moved.delta ELSE 0 END,
            session_count = c.session_count + CASE WHEN cards THEN 0 ELSE moved.delta END
        FROM (SELECT user_group_id, sum(delta) AS delta FROM ({changes}) AS changes
              WHERE user_group_id IS NOT NULL GROUP BY user_group_id) AS moved
        WHERE c.user_group_id = moved.user_group_id AND moved.delta <> 0;"""
_MOVED_BY_UPDATE = """
            SELECT n.user_group_id, 1 AS delta FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE n.user_group_id IS DISTINCT FROM o.user_group_id
            UNION ALL
            SELECT o.user_group_id, -1 FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE n.user_group_id IS DISTINCT FROM o.user_group_id"""
PG_FUNCTION = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cards boolean := TG_ARGV[0] = 'card_count';
BEGIN
    IF TG_OP = 'INSERT' THEN{_ADD_MOVED.format(changes="SELECT user_group_id, 1 AS delta FROM new_rows")}
    ELSIF TG_OP = 'DELETE' THEN{_ADD_MOVED.format(changes="SELECT user_group_id, -1 AS delta FROM old_rows")}
    ELSE{_ADD_MOVED.format(changes=_MOVED_BY_UPDATE)}
    END IF;
    RETURN NULL;
END $$
"""  # noqa: S608 (constant text)
PG_NEW_GROUPS = f"""
CREATE FUNCTION {FUNCTION}_new_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_group_counts (user_group_id, card_count, session_count)
    SELECT id, 0, 0 FROM new_rows;
    RETURN NULL;
END $$
"""  # noqa: S608 (constant text)
TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _sqlite_triggers(table: str, column: str) -> list[str]:
    def change(delta: str, row: str) -> str:
        where = f"WHERE user_group_id = {row}.user_group_id;"
        return f"UPDATE user_group_counts SET {column} = {column} {delta} 1 {where}"  # noqa: S608 (constant text)

    name = f"ugs_{table}_counted"
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {change('+', 'NEW')} END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {change('-', 'OLD')} END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF user_group_id ON {table}"
        f" WHEN OLD.user_group_id IS NOT NEW.user_group_id"
        f" BEGIN {change('-', 'OLD')} {change('+', 'NEW')} END",
    ]


def create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        for table, column in COUNTED:
            for event, transition in TRANSITIONS.items():
                op.execute(
                    f"CREATE TRIGGER ugs_{table}_counted_{event} AFTER {event.upper()} ON {table}"
                    f" {transition} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}('{column}')"
                )
        op.execute(
            "CREATE TRIGGER ugs_user_groups_counted AFTER INSERT ON user_groups"
            f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}_new_groups()"
        )
        return
    for table, column in COUNTED:
        for statement in _sqlite_triggers(table, column):
            op.execute(statement)
    op.execute(
        "CREATE TRIGGER ugs_user_groups_counted AFTER INSERT ON user_groups BEGIN"
        " INSERT INTO user_group_counts (user_group_id, card_count, session_count) VALUES (NEW.id, 0, 0);"
        " END"
    )


def drop_triggers(dialect: str) -> None:
    triggers = [(f"ugs_{table}_counted_{event}", table) for table, _ in COUNTED for event in TRANSITIONS]
    for name, table in [*triggers, ("ugs_user_groups_counted", "user_groups")]:
        on = f" ON {table}" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "user_group_counts",
        sa.Column("user_group_id", sa.Uuid(), nullable=False),
        sa.Column("card_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("session_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_group_id"],
            ["user_groups.id"],
            name=op.f("fk_user_group_counts_user_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_group_id", name=op.f("pk_user_group_counts")),
    )
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_NEW_GROUPS)
    # The triggers first: creating them locks the three tables against writes until this
    # migration commits, so the count below misses no row another process writes meanwhile.
    create_triggers(dialect)
    op.execute(
        "INSERT INTO user_group_counts (user_group_id, card_count, session_count)"
        " SELECT g.id,"
        " (SELECT count(*) FROM cards c WHERE c.user_group_id = g.id),"
        " (SELECT count(*) FROM charging_sessions s WHERE s.user_group_id = g.id)"
        " FROM user_groups g"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    drop_triggers(dialect)
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}_new_groups()")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.drop_table("user_group_counts")
