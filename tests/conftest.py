"""Test setup: a fresh database per run (SQLite file, or a new PostgreSQL database when
DATABASE_URL points at a server), migrated with Alembic once; the real app over HTTP (ASGI).

Tests do not share rows: each one works inside an organization of its own (tests/factories.py),
and every query of the app is scoped to the caller's organization.
"""

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Text, cast, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import migrate
from app.main import create_app
from app.models import ChargingSession
from app.settings import Settings, normalize_database_url
from app.tariff_description import describe_tariff
from tests.factories import Org, in_unit_of_work, make_org

SERVER_URL = os.environ.get("DATABASE_URL")
# One key for the webhook secrets of this run, shared with the servers and workers the tests
# start; and webhooks may reach receivers the tests run on 127.0.0.1.
os.environ.setdefault("WEBHOOK_SECRET_KEY", Fernet.generate_key().decode())
os.environ.setdefault("WEBHOOK_ALLOWED_NETWORKS", '["127.0.0.0/8"]')
# The servers the tests start do not deliver in the background either (a delivery attempt would
# change the state the gates compare); the worker's own tests start it where they need it.
os.environ.setdefault("WEBHOOK_WORKER_IN_PROCESS", "false")


def is_postgres() -> bool:
    return bool(SERVER_URL) and normalize_database_url(SERVER_URL or "").startswith("postgresql")


def behind_pgbouncer() -> bool:
    """The suite runs through PgBouncer (`python -m tests.pgbouncer`, DATABASE_PGBOUNCER=true)."""
    return os.environ.get("DATABASE_PGBOUNCER", "").lower() in {"1", "true", "yes"}


async def _admin_execute(server_url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    dsn = normalize_database_url(server_url).replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def fresh_database_url(tmp_dir: Path) -> Iterator[str]:
    """A new empty database: created on the PostgreSQL server, or a new SQLite file."""
    if not is_postgres():
        yield f"sqlite+aiosqlite:///{tmp_dir / 'test.db'}"
        return
    assert SERVER_URL is not None
    name = f"ugs_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_execute(SERVER_URL, f'CREATE DATABASE "{name}"'))
    base = normalize_database_url(SERVER_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin_execute(SERVER_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    migrate(database_url)
    # No webhook deliveries in the background of the shared app: tests/api/test_webhooks.py runs
    # its own worker where it needs one.
    return Settings(
        database_url=database_url,
        log_level="WARNING",
        max_body_bytes=1024 * 1024,
        webhook_worker_in_process=False,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
        # A gate over everything the suite wrote, by every path it took (single and bulk writes,
        # moves, deletes, cascades, sessions, the direct inserts of tests/factories.py): the
        # counts the database keeps per group are the counts of its rows, and every session's
        # tariff description is its tariff copy's.
        assert in_unit_of_work(test_client, groups_miscounted) == []
        assert in_unit_of_work(test_client, sessions_misdescribed) == []


COUNTS_DISAGREE = text(
    """
    SELECT g.id, c.card_count, c.session_count,
           (SELECT count(*) FROM cards WHERE cards.user_group_id = g.id) AS cards,
           (SELECT count(*) FROM charging_sessions s WHERE s.user_group_id = g.id) AS sessions
    FROM user_groups g LEFT JOIN user_group_counts c ON c.user_group_id = g.id
    """
)


async def groups_miscounted(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Every group whose kept counts (`user_group_counts`) differ from its rows, or that has none."""
    rows = await session.execute(COUNTS_DISAGREE)
    return [tuple(row) for row in rows if (row.card_count, row.session_count) != (row.cards, row.sessions)]


async def sessions_misdescribed(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Every session whose stored tariff description is not its tariff copy's, distinct copies once."""
    copy, description = cast(ChargingSession.tariff_snapshot, Text), ChargingSession.tariff_description
    described = select(copy, description).group_by(copy, description)
    wrong = []
    for stored, written in await session.execute(described):
        if written != describe_tariff(None if stored is None else json.loads(stored)):
            wrong.append((stored, written))
    return wrong


@pytest.fixture
def org(client: TestClient) -> Org:
    return make_org(client)


@pytest.fixture
def other_org(client: TestClient) -> Org:
    return make_org(client)
