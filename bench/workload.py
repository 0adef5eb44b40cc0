"""Request material for the loads, sampled from the database the server will answer from.

The authorize bodies follow a realistic mix (most cards accepted; some blocked, expired or not
valid yet, some at a charging group where their user group is not active; a few unknown UIDs).
Each body carries the answer the decision table must give, and the harness checks a sample of
them against the live server before the load.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BENCH_WRITE_UID_PREFIX, as_uuid_text, pg_url, sqlite_path
from bench.datagen import unknown_uid

DEFAULT_MIX = {
    "accepted": 0.85,
    "blocked": 0.04,
    "expired": 0.04,
    "not_at_this_location": 0.04,
    "unknown": 0.03,
}
EXPECTED_STATUS = {
    "accepted": "Accepted",
    "blocked": "Blocked",
    "expired": "Expired",
    "not_at_this_location": "NotAtThisLocation",
    "unknown": "Invalid",
}


@dataclass
class AuthorizeBody:
    category: str
    body: str

    @property
    def expected(self) -> str:
        return EXPECTED_STATUS[self.category]


class Reader:
    """Runs read-only SQL on a bench database (asyncpg or sqlite3), returning plain tuples."""

    def __init__(self, kind: str, scale: float) -> None:
        self.kind = kind
        self.scale = scale
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pg: Any = None
        self.lite: sqlite3.Connection | None = None
        if kind == "pg":
            import asyncpg

            self.loop = asyncio.new_event_loop()
            self.pg = self.loop.run_until_complete(asyncpg.connect(pg_url(scale)))
        else:
            self.lite = sqlite3.connect(sqlite_path(scale))

    def now_param(self) -> Any:
        now = datetime.now(UTC)
        return now if self.kind == "pg" else now.replace(tzinfo=None).isoformat(" ", "microseconds")

    def fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.kind == "pg":
            assert self.loop is not None
            pg_sql = sql
            for i in range(len(params)):
                pg_sql = pg_sql.replace("?", f"${i + 1}", 1)
            rows = self.loop.run_until_complete(self.pg.fetch(pg_sql, *params))
            return [tuple(row) for row in rows]
        assert self.lite is not None
        return list(self.lite.execute(sql, params).fetchall())

    def execute(self, sql: str) -> None:
        if self.kind == "pg":
            assert self.loop is not None
            self.loop.run_until_complete(self.pg.execute(sql))
        else:
            assert self.lite is not None
            self.lite.execute(sql)
            self.lite.commit()

    def close(self) -> None:
        if self.kind == "pg":
            assert self.loop is not None
            self.loop.run_until_complete(self.pg.close())
            self.loop.close()
        elif self.lite is not None:
            self.lite.close()


def _bool(value: Any) -> bool:
    return bool(value)


def build_authorize_bodies(
    reader: Reader, count: int, seed: int, mix: dict[str, float] | None = None
) -> list[AuthorizeBody]:
    mix = mix or DEFAULT_MIX
    rng = random.Random(seed)
    groups = {
        as_uuid_text(gid): (status, scope)
        for gid, status, scope in reader.fetch("SELECT id, status, activation_scope FROM user_groups")
    }
    activations: dict[str, set[str]] = {}
    for ug, cg in reader.fetch("SELECT user_group_id, charging_group_id FROM activations"):
        activations.setdefault(as_uuid_text(ug), set()).add(as_uuid_text(cg))
    connectors = [
        (as_uuid_text(cid), evse, as_uuid_text(cg))
        for cid, evse, cg, access in reader.fetch(
            "SELECT con.id, con.evse_id, cp.charging_group_id, cg.access_control FROM connectors con "
            "JOIN charge_points cp ON cp.id = con.charge_point_id "
            "JOIN charging_groups cg ON cg.id = cp.charging_group_id"
        )
        if _bool(access)
    ]
    by_cg: dict[str, list[tuple[str, str, str]]] = {}
    for connector in connectors:
        by_cg.setdefault(connector[2], []).append(connector)
    now = reader.now_param()
    wanted = {category: max(1, round(count * share)) for category, share in mix.items()}
    sample = 3 * max(wanted.values())
    not_bench = f"uid NOT LIKE '{BENCH_WRITE_UID_PREFIX}%'"
    valid = reader.fetch(
        "SELECT uid, user_group_id FROM cards WHERE NOT blocked "
        "AND (valid_from IS NULL OR valid_from <= ?) AND (valid_until IS NULL OR valid_until > ?) "
        f"AND {not_bench} ORDER BY random() LIMIT ?",
        now,
        now,
        sample,
    )
    blocked = reader.fetch(
        f"SELECT uid FROM cards WHERE blocked AND {not_bench} ORDER BY random() LIMIT ?", sample
    )
    expired = reader.fetch(
        "SELECT uid FROM cards WHERE NOT blocked AND ((valid_until IS NOT NULL AND valid_until <= ?) "
        f"OR (valid_from IS NOT NULL AND valid_from > ?)) AND {not_bench} ORDER BY random() LIMIT ?",
        now,
        now,
        sample,
    )
    candidates = [unknown_uid(rng.randrange(10**8)) for _ in range(min(wanted["unknown"] * 2, 5000))]
    taken = {
        row[0]
        for start in range(0, len(candidates), 500)
        for row in reader.fetch(
            f"SELECT uid FROM cards WHERE uid IN ({', '.join('?' * len(candidates[start : start + 500]))})",
            *candidates[start : start + 500],
        )
    }
    unknown = [uid for uid in candidates if uid not in taken]

    def connector_ref(connector: tuple[str, str, str]) -> dict[str, str]:
        if rng.random() < 0.8:
            return {"connector_id": connector[0]}
        return {"evse_id": connector[1]}

    def any_connector() -> tuple[str, str, str]:
        return connectors[rng.randrange(len(connectors))]

    accepted_pairs: list[tuple[str, tuple[str, str, str]]] = []
    elsewhere_pairs: list[tuple[str, tuple[str, str, str]]] = []
    for uid, ug in valid:
        status, scope = groups[as_uuid_text(ug)]
        if status != "active":
            continue
        active_here = activations.get(as_uuid_text(ug), set())
        if scope == "all":
            accepted_pairs.append((uid, any_connector()))
            continue
        if active_here:
            cg = rng.choice(sorted(active_here))
            if by_cg.get(cg):
                accepted_pairs.append((uid, rng.choice(by_cg[cg])))
        for _ in range(20):
            connector = any_connector()
            if connector[2] not in active_here:
                elsewhere_pairs.append((uid, connector))
                break

    pools: dict[str, Sequence[tuple[str, tuple[str, str, str]]]] = {
        "accepted": accepted_pairs,
        "not_at_this_location": elsewhere_pairs,
        "blocked": [(row[0], any_connector()) for row in blocked],
        "expired": [(row[0], any_connector()) for row in expired],
        "unknown": [(uid, any_connector()) for uid in unknown],
    }
    bodies: list[AuthorizeBody] = []
    for category, n in wanted.items():
        pool = pools[category]
        if not pool:
            continue
        for i in range(n):
            uid, connector = pool[i % len(pool)]
            body = json.dumps({"id_token": uid, **connector_ref(connector)}, separators=(",", ":"))
            bodies.append(AuthorizeBody(category, body))
    rng.shuffle(bodies)
    return bodies


def group_ids(reader: Reader, active_only: bool) -> list[str]:
    sql = "SELECT id FROM user_groups" + (" WHERE status = 'active'" if active_only else "")
    return [as_uuid_text(row[0]) for row in reader.fetch(sql)]


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# The OCPP local lists' bookkeeping the bench's writes move; the generator writes none of it.
BOOKKEEPING_TABLES = (
    "local_list_removals",
    "local_list_memberships",
    "local_list_heads",
    "local_list_clocks",
)


def remove_bench_writes(reader: Reader, vacuum: bool = True) -> int:
    """Removes what the write tests added (cards with the bench prefix and their audit records)."""
    before = reader.fetch(f"SELECT count(*) FROM cards WHERE uid LIKE '{BENCH_WRITE_UID_PREFIX}%'")[0][0]
    if before:
        reader.execute(f"DELETE FROM cards WHERE uid LIKE '{BENCH_WRITE_UID_PREFIX}%'")
        for table in BOOKKEEPING_TABLES:
            reader.execute(f"DELETE FROM {table}")
        reader.execute("UPDATE user_groups SET card_seq = 0 WHERE card_seq <> 0")
        records = (
            "SELECT id FROM audit_events WHERE action IN ('card.added', 'cards.bulk_added', "
            "'cards.bulk_blocked', 'cards.bulk_unblocked') AND actor_name = 'bench-admin'"
        )
        # Their webhook deliveries and change events (the feed) first: they reference the records.
        reader.execute(
            "DELETE FROM webhook_deliveries WHERE event_seq IN "
            f"(SELECT seq FROM change_events WHERE audit_event_id IN ({records}))"
        )
        reader.execute(f"DELETE FROM change_events WHERE audit_event_id IN ({records})")
        reader.execute(f"DELETE FROM audit_events WHERE id IN ({records})")
        if vacuum and reader.kind == "pg":
            reader.execute("VACUUM (ANALYZE) cards")
            reader.execute("VACUUM (ANALYZE) audit_events")
    return int(before)


def with_reader(kind: str, scale: float, action: Callable[[Reader], Any]) -> Any:
    reader = Reader(kind, scale)
    try:
        return action(reader)
    finally:
        reader.close()
