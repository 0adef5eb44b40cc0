"""Shared by the gates: the route table, an organization with one of everything, and the real
server (uvicorn in its own process) for the generated clients."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.cli import ROOT
from app.main import create_app
from app.settings import Settings
from tests.factories import (
    Org,
    add_card,
    all_items,
    authorize,
    create_user_group,
    free_port,
    make_org,
    make_site,
    ok,
    start_session,
)

SERVER_START_SECONDS = 20
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SERVER_START_SECONDS = 20


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]

    def url(self, ids: dict[str, str]) -> str:
        url = self.path
        for name in self.path_parameters:
            url = url.replace("{" + name + "}", ids[name])
        return url

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_table() -> list[Operation]:
    """Every /v1 operation of the app, read from its routes: a route added later is in here."""
    app = create_app(Settings(database_url="sqlite+aiosqlite://", log_level="WARNING"))
    operations = [
        Operation(method, str(context.path), context.original_route.name)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and str(context.path).startswith("/v1/")
        for method in sorted(context.original_route.methods or ())
    ]
    assert len(operations) > 40, "the route table looks empty; did the routing API change?"
    return operations


OPERATIONS = route_table()


def build_world(client: TestClient, org: Org) -> dict[str, str]:
    """One of everything in `org`; returns the id for each path parameter name."""
    # First, so that every change below is also a delivery to it (nothing listens on port 9).
    endpoint = ok(
        client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=org.auth()), 201
    )
    site = make_site(client, org, connectors=2)
    group = create_user_group(
        client,
        org,
        tariff={"currency": "EUR", "price_per_kwh": "0.30"},
        activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]},
    )
    upcoming = {"currency": "EUR", "price_per_kwh": "0.35", "valid_from": "2099-01-01T00:00:00Z"}
    ok(client.put(f"/v1/user-groups/{group['id']}/tariff", json=upcoming, headers=org.auth()))
    # Guest rules that refuse nobody: the rules box has a resource for every gate.
    rules = {"group_valid_from": "2000-01-01T00:00:00Z"}
    ok(client.put(f"/v1/user-groups/{group['id']}/rules", json=rules, headers=org.auth()))
    card = add_card(client, org, group["id"], f"W{site['group']['id'][:8].upper()}")
    session = ok(
        start_session(client, org, card["uid"], site["connectors"][0]["id"], "2026-11-01T10:00:00Z"), 201
    )
    ok(client.patch("/v1/organization", json={"time_zone": "Europe/Berlin"}, headers=org.auth()))
    viewer_key = next(
        k for k in ok(client.get("/v1/api-keys", headers=org.auth()))["items"] if k["role"] == "viewer"
    )
    deliveries = ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=org.auth()))
    return {
        "unknown_card_id": unknown_card(client, org, site["connectors"][0]["id"]),
        "endpoint_id": endpoint["id"],
        "delivery_id": deliveries["items"][0]["id"],
        "user_group_id": group["id"],
        "card_id": card["id"],
        "charging_group_id": site["group"]["id"],
        "charge_point_id": site["charge_point"]["id"],
        "connector_id": site["connectors"][0]["id"],
        "session_id": session["id"],
        "api_key_id": viewer_key["id"],
    }


def unknown_card(client: TestClient, org: Org, connector_id: str) -> str:
    """An unknown UID refused at the connector, written to the list at once; its entry's id."""
    uid = uuid.uuid4().hex[:12].upper()
    ok(authorize(client, org, uid, connector_id=connector_id))
    app: Any = client.app
    assert client.portal is not None
    client.portal.call(app.state.unknown_cards.flush, app.state.db)
    found: str = next(e["id"] for e in all_items(client, org, "/v1/unknown-cards") if e["uid"] == uid)
    return found


def organization_state(client: TestClient, org: Org) -> dict[str, Any]:
    """Everything an organization has, as its API shows it: to prove that nothing changed."""
    state: dict[str, Any] = {}
    for path in (
        "/v1/user-groups?status=all",
        "/v1/cards",
        "/v1/charging-groups",
        "/v1/charge-points",
        "/v1/connectors",
        "/v1/sessions",
        "/v1/api-keys",
        "/v1/audit-events",
        "/v1/webhook-endpoints",
        "/v1/unknown-cards",
    ):
        state[path] = all_items(client, org, path)
    state["/v1/organization"] = ok(client.get("/v1/organization", headers=org.auth()))
    for group in state["/v1/user-groups?status=all"]:
        for sub in ("charging-groups", "tariff/versions", "cards?limit=200", "learning-mode"):
            state[f"{group['id']}/{sub}"] = ok(
                client.get(f"/v1/user-groups/{group['id']}/{sub}", headers=org.auth())
            )
    for endpoint in state["/v1/webhook-endpoints"]:
        state[f"{endpoint['id']}/deliveries"] = ok(
            client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=200", headers=org.auth())
        )
    return state


@pytest.fixture
def world_org(client: TestClient) -> Org:
    return make_org(client)


@pytest.fixture
def world(client: TestClient, world_org: Org) -> dict[str, str]:
    return build_world(client, world_org)


# The server -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app in its own process (uvicorn), on the already migrated test database (for the
    Python and the TypeScript client gates: one per test module, stopped after it)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer /healthz in {SERVER_START_SECONDS} s:\n{log_path.read_text()}"
                )
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def scenario_org(client: TestClient) -> Org:
    """The organization and its keys, written straight to the database the server uses."""
    return make_org(client)
