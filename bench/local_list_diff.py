"""The OCPP local-list differential for one changed card, in a 100-card and a 100,000-card charging
group of the same database, in the same run (issue 12: the cost must not depend on the group's
size).

    .venv/bin/python -m bench.local_list_diff [--db sqlite|pg] [--small 100] [--large 100000] [--reps 200]

Builds a fresh database (a temporary SQLite file, or a new database on BENCH_PG_URL that is
dropped afterwards), migrated with Alembic, and fills it through the real app in process (the
FastAPI test client: no network, no server process): two charging groups with access control,
one user group active on each, 100 and 100,000 cards added with the bulk endpoint. Then, per
group and alternating between them, `--reps` times: block or unblock one card of the group
(PATCH /v1/cards/{id}, timed: the write keeps the list in step) and ask for the differential
since the version before it (GET .../local-list?since_version=N, timed), checking that it holds
exactly that card. On PostgreSQL the tables are analyzed after the build, as autovacuum would.
Prints medians and p90 per group and the large/small ratio, as JSON too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from app.cli import migrate
from app.db import Database, UnitOfWork
from app.enums import Role
from app.main import create_app
from app.services import api_keys
from app.settings import Settings, normalize_database_url
from fastapi.testclient import TestClient

from bench.common import PG_ADMIN_URL

BULK = 10_000


async def _admin(statement: str, database: str | None = None) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = normalize_database_url(PG_ADMIN_URL).replace("+asyncpg", "")
    if database is not None:
        url = url.rsplit("/", 1)[0] + f"/{database}"
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def admin_key(client: TestClient) -> str:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def create() -> str:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, f"bench-{uuid.uuid4().hex[:8]}")
            ctx = api_keys.system_context(organization.id, "bench")
            _, secret = await api_keys.create_api_key(session, ctx, "bench admin", Role.admin)
        return secret

    assert client.portal is not None
    return client.portal.call(create)


def expect(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def build(client: TestClient, headers: dict[str, str], name: str, cards: int) -> dict[str, Any]:
    cg = expect(
        client.post("/v1/charging-groups", json={"name": name, "access_control": True}, headers=headers), 201
    )
    group = expect(
        client.post(
            "/v1/user-groups",
            json={
                "name": f"Guests {name}",
                "activation": {"scope": "custom", "charging_group_ids": [cg["id"]]},
            },
            headers=headers,
        ),
        201,
    )
    started = time.perf_counter()
    for start in range(0, cards, BULK):
        rows = [{"uid": f"{name}{n:08X}"} for n in range(start, min(cards, start + BULK))]
        expect(
            client.post(f"/v1/user-groups/{group['id']}/cards/bulk", json={"cards": rows}, headers=headers),
            201,
        )
    print(f"{name}: {cards} cards added in {time.perf_counter() - started:.1f} s", flush=True)
    page = expect(client.get(f"/v1/user-groups/{group['id']}/cards", params={"limit": 50}, headers=headers))
    started = time.perf_counter()
    response = client.get(f"/v1/charging-groups/{cg['id']}/local-list", headers=headers)
    full = expect(response)
    print(
        f"{name}: full list {len(response.content):,} bytes in {time.perf_counter() - started:.2f} s",
        flush=True,
    )
    assert full["entry_count"] == cards, full["entry_count"]
    return {
        "cg": cg["id"],
        "cards": [card["id"] for card in page["items"]],
        "size": cards,
        "version": full["list_version"],
    }


def measure(
    client: TestClient, headers: dict[str, str], world: dict[str, Any], rep: int
) -> tuple[float, float]:
    url = f"/v1/charging-groups/{world['cg']}/local-list"
    version = world["version"]
    card_id = world["cards"][rep % len(world["cards"])]
    blocked = world.setdefault("blocked", set())
    blocked ^= {card_id}  # a real change every time: block it, or unblock it
    started = time.perf_counter()
    expect(client.patch(f"/v1/cards/{card_id}", json={"blocked": card_id in blocked}, headers=headers))
    write = time.perf_counter() - started
    started = time.perf_counter()
    diff = expect(client.get(url, params={"since_version": version}, headers=headers))
    read = time.perf_counter() - started
    if diff["entry_count"] != 1 or diff["list_version"] <= version:
        raise SystemExit(f"unexpected differential: {diff}")
    world["version"] = diff["list_version"]
    return write, read


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pg_name = f"{os.environ.get('BENCH_DB_PREFIX', 'ugs_bench')}_list_{uuid.uuid4().hex[:8]}"
        if args.db == "pg":
            asyncio.run(_admin(f'CREATE DATABASE "{pg_name}"'))
            url = normalize_database_url(PG_ADMIN_URL).rsplit("/", 1)[0] + f"/{pg_name}"
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        try:
            migrate(url)
            settings = Settings(database_url=url, log_level="WARNING", max_body_bytes=64 * 1024 * 1024)
            with TestClient(create_app(settings)) as client:
                headers = {"Authorization": f"Bearer {admin_key(client)}"}
                worlds = {
                    "small": build(client, headers, "SMALL", args.small),
                    "large": build(client, headers, "LARGE", args.large),
                }
                if args.db == "pg":
                    # What autovacuum does within a minute of the load in production: without
                    # statistics the planner takes the 100,000 fresh cards for a few hundred.
                    asyncio.run(_admin("ANALYZE", database=pg_name))
                timings: dict[str, dict[str, list[float]]] = {
                    name: {"write": [], "read": []} for name in worlds
                }
                for rep in range(args.reps):
                    for name in ("small", "large") if rep % 2 == 0 else ("large", "small"):
                        write, read = measure(client, headers, worlds[name], rep)
                        timings[name]["write"].append(write)
                        timings[name]["read"].append(read)
        finally:
            if args.db == "pg":
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))

    result: dict[str, Any] = {"db": args.db, "reps": args.reps, "load_average_1m_at_end": os.getloadavg()[0]}
    for name, world in worlds.items():
        result[name] = {
            "cards": world["size"],
            "differential": summary(timings[name]["read"]),
            "card_change": summary(timings[name]["write"]),
        }
    for kind in ("differential", "card_change"):
        result[f"{kind}_large_over_small"] = round(
            result["large"][kind]["median_ms"] / result["small"][kind]["median_ms"], 2
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
