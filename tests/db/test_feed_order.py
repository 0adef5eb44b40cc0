"""The change feed on PostgreSQL, where transactions commit in another order than they write:
a reader that resumes from its cursor neither skips the event of a transaction that committed
late nor sees an event twice."""

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.enums import AuditAction, Role
from app.models import ChargingGroup
from app.services import api_keys, audit
from tests.conftest import is_postgres
from tests.factories import Org, create_user_group, ok

pytestmark = pytest.mark.skipif(not is_postgres(), reason="needs PostgreSQL (DATABASE_URL)")


async def _write(session: AsyncSession, org: Org, name: str) -> uuid.UUID:
    """A change as the services make it: the row and its audit record (which writes the event)."""
    group = ChargingGroup(organization_id=org.id, name=name)
    session.add(group)
    await audit.record(
        session, api_keys.system_context(org.id, name), AuditAction.charging_group_created, group
    )
    return group.id


def _read(client: TestClient, org: Org, cursor: str | None, expect: int = 0) -> tuple[list[Any], str]:
    """One page; with `expect`, the first page with that many events (a transaction of another
    test on the same server can hold the feed back for a moment: the horizon is server-wide)."""
    params = {"cursor": cursor} if cursor else {}
    deadline = time.monotonic() + 15
    while True:
        page = ok(client.get("/v1/events", params=params, headers=org.auth(Role.integration)))
        if len(page["items"]) >= expect or time.monotonic() > deadline:
            return page["items"], page["next_cursor"]
        time.sleep(0.05)


def test_a_transaction_that_commits_after_a_later_one_is_not_skipped(client: TestClient, org: Org) -> None:
    create_user_group(client, org)
    before, cursor = _read(client, org, None, expect=1)
    assert [e["type"] for e in before] == ["user_group.created"]
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    assert client.portal is not None
    sessions: dict[str, AsyncSession] = {}

    async def begin_both() -> tuple[uuid.UUID, uuid.UUID]:
        sessions["t1"], sessions["t2"] = db.sessionmaker(), db.sessionmaker()
        first = await _write(sessions["t1"], org, "T1")  # T1 writes first (the smaller transaction id)
        second = await _write(sessions["t2"], org, "T2")
        await sessions["t2"].commit()  # ... but T2 commits first
        return first, second

    first, second = client.portal.call(begin_both)
    try:
        while_t1_runs, cursor_during = _read(client, org, cursor)
        # T2's event is committed, but it sorts after T1's, which may still come: it is held back.
        assert while_t1_runs == []
        assert cursor_during == cursor
        ok(client.get(f"/v1/charging-groups/{second}", headers=org.auth()))  # T2 is visible elsewhere
    finally:
        client.portal.call(sessions["t1"].commit)
        client.portal.call(sessions["t1"].close)
        client.portal.call(sessions["t2"].close)

    after, end = _read(client, org, cursor_during, expect=2)
    assert [e["data"]["resource"]["id"] for e in after] == [str(first), str(second)]
    assert _read(client, org, end) == ([], end)
    everything, _ = _read(client, org, None, expect=3)
    assert [e["type"] for e in everything] == ["user_group.created"] + ["charging_group.created"] * 2


def test_a_rolled_back_transaction_leaves_no_event_and_does_not_hold_the_feed(
    client: TestClient, org: Org
) -> None:
    _, cursor = _read(client, org, None)
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    assert client.portal is not None
    sessions: dict[str, AsyncSession] = {}

    async def begin() -> uuid.UUID:
        sessions["t1"], sessions["t2"] = db.sessionmaker(), db.sessionmaker()
        await _write(sessions["t1"], org, "gone")
        kept = await _write(sessions["t2"], org, "kept")
        await sessions["t2"].commit()
        await sessions["t1"].rollback()
        for session in sessions.values():
            await session.close()
        return kept

    kept = client.portal.call(begin)
    items, _ = _read(client, org, cursor, expect=1)
    assert [e["data"]["resource"]["id"] for e in items] == [str(kept)]
