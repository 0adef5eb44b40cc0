"""The change feed over HTTP: typed events oldest first, a cursor that resumes without gaps or
repeats (also while several clients write at once), roles and organizations kept apart."""

import threading
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org, add_card, create_user_group, make_site, ok, start_session

FEED_LAG_SECONDS = 15


def read_all(
    client: TestClient, org: Org, cursor: str | None = None, expect: int = 0, **params: Any
) -> tuple[list[Any], str]:
    """Reads the feed to its end; with `expect`, waits until that many events have come.

    On PostgreSQL an event shows once every transaction older than its own has ended, in the
    whole server: a test of another database on the same server can hold it back for a moment.
    """
    items: list[Any] = []
    deadline = time.monotonic() + FEED_LAG_SECONDS
    while True:
        query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get("/v1/events", params=query, headers=org.auth(Role.integration)))
        items += page["items"]
        assert page["next_cursor"], "the feed always gives a cursor to read on from"
        cursor_moved = page["next_cursor"] != cursor
        cursor = page["next_cursor"]
        if page["items"] and cursor_moved:
            continue
        if len(items) >= expect or time.monotonic() > deadline:
            return items, cursor
        time.sleep(0.05)


def test_every_change_is_a_typed_event_with_the_new_state(client: TestClient, org: Org) -> None:
    site = make_site(client, org, connectors=1)
    group = create_user_group(client, org, tariff={"currency": "EUR", "price_per_kwh": "0.30"})
    card = add_card(client, org, group["id"], "FEED0001")
    ok(client.patch(f"/v1/cards/{card['id']}", json={"blocked": True}, headers=org.auth(Role.operator)))
    ok(client.patch(f"/v1/cards/{card['id']}", json={"blocked": False}, headers=org.auth()))
    ok(start_session(client, org, "FEED0001", site["connectors"][0]["id"], "2026-11-01T10:00:00Z"), 201)

    events, _ = read_all(client, org, expect=8)
    types = [event["type"] for event in events]
    assert types[:3] == ["charging_group.created", "charge_point.created", "connector.created"]
    assert types[3:] == [
        "user_group.created",
        "card.added",
        "card.updated",
        "card.updated",
        "session.started",
    ]
    blocked = events[5]
    assert blocked["data"]["resource"] == {"type": "card", "id": card["id"]}
    assert blocked["data"]["state"]["blocked"] is True and blocked["data"]["state"]["uid"] == "FEED0001"
    assert blocked["data"]["state"]["id"] == card["id"]
    assert blocked["data"]["old"]["blocked"] is False and blocked["data"]["new"]["blocked"] is True
    assert blocked["data"]["actor"]["name"] == "operator key"
    assert blocked["data"]["user_group_id"] == group["id"]
    assert len({event["id"] for event in events}) == len(events)
    times = [event["timestamp"] for event in events]
    assert times == sorted(times)


def test_a_deleted_resource_has_no_state(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    _, cursor = read_all(client, org, expect=1)
    ok(client.delete(f"/v1/user-groups/{group['id']}", headers=org.auth()), 204)
    events, _ = read_all(client, org, cursor, expect=1)
    assert [(e["type"], e["data"]["state"]) for e in events] == [("user_group.deleted", None)]
    assert events[0]["data"]["old"]["name"] == group["name"]


def test_resuming_from_the_cursor_gives_only_what_is_new(client: TestClient, org: Org) -> None:
    create_user_group(client, org)
    first, cursor = read_all(client, org, expect=1)
    assert len(first) == 1
    again, same = read_all(client, org, cursor)
    assert again == [] and same == cursor
    group = create_user_group(client, org)
    new, _ = read_all(client, org, cursor, expect=1)
    assert [(e["type"], e["data"]["resource"]["id"]) for e in new] == [("user_group.created", group["id"])]


def test_small_pages_and_a_type_filter(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    for number in range(5):
        add_card(client, org, group["id"], f"PAGE{number:04d}")
    paged, _ = read_all(client, org, expect=6, limit=2)
    assert [e["type"] for e in paged] == ["user_group.created"] + ["card.added"] * 5
    cards, _ = read_all(client, org, expect=5, type="card.added")
    assert [e["data"]["state"]["uid"] for e in cards] == [f"PAGE{n:04d}" for n in range(5)]


def test_other_organizations_and_api_keys_are_not_in_the_feed(
    client: TestClient, org: Org, other_org: Org
) -> None:
    create_user_group(client, other_org)
    ok(client.post("/v1/api-keys", json={"name": "k", "role": "viewer"}, headers=org.auth()), 201)
    own = create_user_group(client, org)
    events, _ = read_all(client, org, expect=1)
    assert [(e["type"], e["data"]["resource"]["id"]) for e in events] == [("user_group.created", own["id"])]


def test_admin_reads_the_feed_and_other_roles_do_not(client: TestClient, org: Org) -> None:
    assert client.get("/v1/events", headers=org.auth(Role.admin)).status_code == 200
    for role in (Role.operator, Role.viewer):
        assert client.get("/v1/events", headers=org.auth(role)).status_code == 403


def test_a_changed_or_foreign_cursor_is_refused(client: TestClient, org: Org) -> None:
    create_user_group(client, org)
    page = ok(client.get("/v1/events", headers=org.auth(Role.integration)))
    cursor = page["next_cursor"]
    list_cursor = ok(client.get("/v1/user-groups?limit=1", headers=org.auth()))["next_cursor"]
    for bad in (cursor[:-2], cursor.replace(".", "x"), "abc", list_cursor):
        if bad is None:
            continue
        response = client.get("/v1/events", params={"cursor": bad}, headers=org.auth(Role.integration))
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_a_reader_tailing_concurrent_writers_sees_each_event_once_in_feed_order(
    client: TestClient, org: Org
) -> None:
    """Writers in several threads while a reader follows the feed with its cursor: what the reader
    collected is exactly the whole feed, in the same order, no event missed or repeated."""
    group = create_user_group(client, org)
    _, start = read_all(client, org, expect=1)
    writers, per_writer = 4, 8
    seen: list[str] = []

    def write(number: int) -> None:
        for index in range(per_writer):
            add_card(client, org, group["id"], f"T{number}X{index:03d}{uuid.uuid4().hex[:4].upper()}")

    def tail() -> None:
        cursor = start
        deadline = time.monotonic() + 120
        while len(seen) < writers * per_writer and time.monotonic() < deadline:
            page = ok(client.get("/v1/events", params={"cursor": cursor}, headers=org.auth(Role.integration)))
            seen.extend(event["id"] for event in page["items"])
            cursor = page["next_cursor"]
        more = ok(client.get("/v1/events", params={"cursor": cursor}, headers=org.auth(Role.integration)))
        seen.extend(event["id"] for event in more["items"])  # nothing, unless an event came twice

    reader = threading.Thread(target=tail)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.join(timeout=60)
    whole, _ = read_all(client, org, start, expect=writers * per_writer)
    assert len(whole) == writers * per_writer
    assert seen == [event["id"] for event in whole]
