"""Lists cost a fixed number of queries, whatever the page size (no N+1)."""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from fastapi.testclient import TestClient
from sqlalchemy import event

from app.db import Database
from app.enums import Role
from tests.factories import Org, add_card, create_user_group, make_site, ok, start_session


@contextmanager
def counting_queries(client: TestClient) -> Iterator[list[str]]:
    """Every statement the request runs: through SQLAlchemy (the engine's events) and on the
    driver outside it (the caller's key, the pages' reads: `Database.fetch_raw` and `fetch_rows`)."""
    statements: list[str] = []
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    engine = db.engine.sync_engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")):
            statements.append(statement)

    def counted(read: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def read_and_count(sql: str, *args: Any, **kwargs: Any) -> Any:
            statements.append(sql)
            return await read(sql, *args, **kwargs)

        return read_and_count

    event.listen(engine, "before_cursor_execute", count)
    with (
        patch.object(db, "fetch_raw", counted(db.fetch_raw)),
        patch.object(db, "fetch_rows", counted(db.fetch_rows)),
    ):
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", count)


def queries_for(client: TestClient, url: str, org: Org) -> int:
    with counting_queries(client) as statements:
        ok(client.get(url, headers=org.auth(Role.viewer)))
    return len(statements)


def test_user_group_list_and_history_use_the_same_queries_for_any_page_size(
    client: TestClient, org: Org
) -> None:
    site = make_site(client, org, connectors=2)
    for index in range(12):
        scope = (
            {"scope": "all"}
            if index % 3 == 0
            else {"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
        )
        group = create_user_group(
            client, org, activation=scope, tariff={"currency": "EUR", "price_per_kwh": "0.3"}
        )
        card = add_card(client, org, group["id"], f"QC{index:02d}{org.name[-6:].upper()}")
        ok(start_session(client, org, card["uid"], site["connectors"][0]["id"], "2026-11-20T10:00:00Z"), 201)

    # Both pages hold groups of scope all and custom (every third group has scope all).
    small, large = (queries_for(client, f"/v1/user-groups?limit={n}", org) for n in (3, 12))
    assert small == large, (small, large)
    assert large == 2  # the caller's key, then the page with its counts: one statement
    history = f"/v1/user-groups/{group['id']}/history"
    assert (
        queries_for(client, f"{history}?limit=1", org) == queries_for(client, f"{history}?limit=50", org) == 2
    )
    assert (
        queries_for(client, f"/v1/user-groups/{group['id']}", org) == 2
    )  # key, group page with its upcoming tariff
    assert queries_for(client, "/v1/cards?limit=2", org) == queries_for(client, "/v1/cards?limit=12", org)
    assert queries_for(client, "/v1/sessions?limit=2", org) == queries_for(
        client, "/v1/sessions?limit=12", org
    )
