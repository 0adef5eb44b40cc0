"""`ugs demo-data` on a fresh database, run as a newcomer runs it; then the call it prints, and the
other answers it promises, through the app."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import demo
from app.cli import ROOT
from app.main import create_app
from app.settings import Settings
from tests.conftest import fresh_database_url
from tests.factories import ok

BASE_URL = "http://127.0.0.1:8765"


def run_demo_data(database_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "app.cli", "demo-data", "--base-url", BASE_URL]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def printed_call(output: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The curl command as printed: URL path, headers, JSON body."""
    match = re.search(r"curl -s -X POST (\S+) \\\n(.*?)-d '([^']*)'", output, flags=re.DOTALL)
    assert match, output
    url, header_text, body = match.groups()
    assert url.startswith(BASE_URL)
    headers = dict(
        (name.strip(), value.strip())
        for name, value in (h.split(":", 1) for h in re.findall(r'-H "([^"]+)"', header_text))
    )
    return url.removeprefix(BASE_URL), headers, json.loads(body)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def first_run(demo_database: str) -> str:
    return run_demo_data(demo_database)


@pytest.fixture(scope="module")
def demo_client(demo_database: str, first_run: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=demo_database, log_level="WARNING"))) as client:
        yield client


def test_the_printed_authorize_call_answers_accepted(first_run: str, demo_client: TestClient) -> None:
    path, headers, body = printed_call(first_run)
    assert path == "/v1/authorize"
    answer = ok(demo_client.post(path, headers=headers, json=body))
    assert (answer["status"], answer["reason"]) == ("Accepted", "accepted")
    assert answer["user_group_id"] is not None


def test_every_card_it_lists_answers_as_it_says(first_run: str, demo_client: TestClient) -> None:
    _, headers, body = printed_call(first_run)
    listed = re.findall(r"^  (\w+)  .*-> (\w+)$", first_run, flags=re.MULTILINE)
    assert len(listed) == 6, first_run
    assert {status for _, status in listed} == {"Accepted", "Blocked", "Expired", "Invalid"}
    for uid, status in listed:
        answer = ok(demo_client.post("/v1/authorize", headers=headers, json={**body, "id_token": uid}))
        assert answer["status"] == status, (uid, answer)
    free = ok(
        demo_client.post(
            "/v1/authorize", headers=headers, json={"id_token": demo.UNKNOWN_UID, "evse_id": demo.FREE_EVSE}
        )
    )
    assert (free["status"], free["reason"]) == ("Accepted", "free_charging")


def test_the_scenario_is_there_with_its_history(first_run: str, demo_client: TestClient) -> None:
    _, headers, _ = printed_call(first_run)
    auth = {"Authorization": headers["Authorization"]}
    groups = ok(demo_client.get("/v1/user-groups", params={"status": "all"}, headers=auth))["items"]
    by_name = {group["name"]: group for group in groups}
    assert set(by_name) == {demo.GUESTS, demo.ARCHIVED}
    guests, archived = by_name[demo.GUESTS], by_name[demo.ARCHIVED]
    assert (guests["status"], guests["type"], archived["status"]) == ("active", "cards_only", "archived")
    page = ok(demo_client.get(f"/v1/user-groups/{guests['id']}", headers=auth))
    assert page["cards"] == {"count": 4}
    assert page["activation"] == {"scope": "custom", "charging_group_count": 2, "connector_count": 8}
    assert (page["tariff"]["currency"], page["tariff"]["price_per_kwh"]) == ("EUR", "0.30")
    assert page["allowed_actions"]["delete"]["allowed"] is False  # it has sessions: archive instead

    sites = {cg["name"]: cg for cg in ok(demo_client.get("/v1/charging-groups", headers=auth))["items"]}
    assert {name: cg["access_control"] for name, cg in sites.items()} == {
        "Car park P1": True,
        "Hotel entrance": True,
        "Staff car park": False,
    }

    sessions = ok(demo_client.get("/v1/sessions", headers=auth))["items"]
    documented = {
        s["transaction_id"]: (s["status"], s["energy_kwh"], s["cost"], s["currency"]) for s in sessions
    }
    assert documented == {
        "DEMO-TX-0001": ("completed", "7", "2.60", "EUR"),
        "DEMO-TX-0002": ("completed", "18.5", "8.45", "EUR"),
        "DEMO-TX-0003": ("completed", "10", "2.50", "EUR"),
    }
    assert {s.transaction_id: s.cost for s in (*demo.SESSIONS, demo.ARCHIVED_SESSION)} == {
        tx: cost for tx, (_, _, cost, _) in documented.items()
    }

    history = ok(
        demo_client.get(f"/v1/user-groups/{guests['id']}/history", params={"limit": 200}, headers=auth)
    )
    actions = [event["action"] for event in reversed(history["items"])]
    assert actions[0] == "user_group.created"
    assert actions.count("card.added") == 4 and actions.count("session.stopped") == 2
    assert all(event["actor_name"] == demo.ACTOR for event in history["items"])
    archived_history = ok(demo_client.get(f"/v1/user-groups/{archived['id']}/history", headers=auth))
    assert archived_history["items"][0]["action"] == "user_group.archived"


def test_a_second_run_adds_only_a_key(demo_database: str, first_run: str, demo_client: TestClient) -> None:
    _, headers, _ = printed_call(first_run)
    auth = {"Authorization": headers["Authorization"]}

    def counts() -> dict[str, int]:
        return {
            "user_groups": len(ok(demo_client.get("/v1/user-groups?status=all", headers=auth))["items"]),
            "charging_groups": len(ok(demo_client.get("/v1/charging-groups", headers=auth))["items"]),
            "connectors": len(ok(demo_client.get("/v1/connectors?limit=200", headers=auth))["items"]),
            "cards": len(ok(demo_client.get("/v1/cards?limit=200", headers=auth))["items"]),
            "sessions": len(ok(demo_client.get("/v1/sessions", headers=auth))["items"]),
            "audit": len(ok(demo_client.get("/v1/audit-events?limit=200", headers=auth))["items"]),
            "keys": len(ok(demo_client.get("/v1/api-keys?limit=200", headers=auth))["items"]),
        }

    before = counts()
    second = run_demo_data(demo_database)
    path, new_headers, body = printed_call(second)
    assert new_headers["Authorization"] != headers["Authorization"]
    assert ok(demo_client.post(path, headers=new_headers, json=body))["status"] == "Accepted"
    after = counts()
    assert after["keys"] == before["keys"] + 1
    assert after["audit"] == before["audit"] + 1  # api_key.created
    assert {k: v for k, v in after.items() if k not in ("keys", "audit")} == {
        k: v for k, v in before.items() if k not in ("keys", "audit")
    }


def test_the_readme_needs_no_tool_a_fresh_debian_lacks() -> None:
    readme = (ROOT / "README.md").read_text()
    for tool in ("uuidgen", "| jq"):
        assert tool not in readme, tool
