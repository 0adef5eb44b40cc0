"""The one home of test helpers: organizations and keys inserted directly, the rest over HTTP, and
the helpers many modules use (free ports, page walking, common calls). Define none twice."""

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from app.db import Database, UnitOfWork
from app.enums import Role
from app.services import api_keys


@dataclass
class Org:
    id: uuid.UUID
    name: str
    keys: dict[Role, str] = field(default_factory=dict)

    def auth(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_org(client: TestClient) -> Org:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def create() -> Org:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, f"org-{uuid.uuid4().hex[:10]}")
            org = Org(organization.id, organization.name)
            ctx = api_keys.system_context(organization.id, "tests")
            for role in Role:
                _, secret = await api_keys.create_api_key(session, ctx, f"{role.value} key", role)
                org.keys[role] = secret
        return org

    assert client.portal is not None
    return client.portal.call(create)


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def create_charging_group(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    body = {"name": f"CG {uuid.uuid4().hex[:8]}", **fields}
    return ok(client.post("/v1/charging-groups", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def create_charge_point(
    client: TestClient, org: Org, charging_group_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "charging_group_id": charging_group_id,
        "identity": f"CP-{uuid.uuid4().hex[:8]}",
        **fields,
    }
    return ok(client.post("/v1/charge-points", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def create_connector(
    client: TestClient, org: Org, charge_point_id: str, number: int = 1, **fields: Any
) -> dict[str, Any]:
    body = {
        "charge_point_id": charge_point_id,
        "connector_number": number,
        "evse_id": f"DE*TST*E{uuid.uuid4().hex[:8].upper()}*{number}",
        "plug_type": "type2",
        "max_power_kw": "22",
        **fields,
    }
    return ok(client.post("/v1/connectors", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def make_site(client: TestClient, org: Org, connectors: int = 2) -> dict[str, Any]:
    """A charging group with one controller and `connectors` connectors on it."""
    group = create_charging_group(client, org)
    charge_point = create_charge_point(client, org, group["id"])
    created = [create_connector(client, org, charge_point["id"], n) for n in range(1, connectors + 1)]
    return {"group": group, "charge_point": charge_point, "connectors": created}


def create_user_group(client: TestClient, org: Org, name: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": name or f"Guests {uuid.uuid4().hex[:8]}", **fields}
    return ok(client.post("/v1/user-groups", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def add_card(client: TestClient, org: Org, user_group_id: str, uid: str, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"/v1/user-groups/{user_group_id}/cards", json={"uid": uid, **fields}, headers=org.auth()
    )
    return ok(response, 201)  # type: ignore[no-any-return]


def authorize(client: TestClient, org: Org, uid: str, **connector: Any) -> Response:
    response: Response = client.post(
        "/v1/authorize", json={"id_token": uid, **connector}, headers=org.auth(Role.integration)
    )
    return response


def start_session(
    client: TestClient, org: Org, uid: str, connector_id: str, started_at: str, meter_start_wh: int = 0
) -> Response:
    body = {
        "transaction_id": f"tx-{uuid.uuid4().hex[:12]}",
        "id_token": uid,
        "connector_id": connector_id,
        "meter_start_wh": meter_start_wh,
        "started_at": started_at,
    }
    response: Response = client.post("/v1/sessions", json=body, headers=org.auth(Role.integration))
    return response


# Shared by many test modules: defined here once, imported where used. ----------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def custom(*charging_group_ids: str) -> dict[str, Any]:
    """An activation on exactly these charging groups."""
    return {"scope": "custom", "charging_group_ids": list(charging_group_ids)}


def archive(client: TestClient, org: Org, group_id: str) -> dict[str, Any]:
    return ok(client.post(f"/v1/user-groups/{group_id}/archive", headers=org.auth()))  # type: ignore[no-any-return]


def post_csv(client: TestClient, org: Org, group_id: str, content: bytes) -> Response:
    response: Response = client.post(
        f"/v1/user-groups/{group_id}/cards/import",
        files={"file": ("cards.csv", content, "text/csv")},
        headers=org.auth(),
    )
    return response


def stop(client: TestClient, org: Org, session_id: str, meter: int, stopped_at: datetime) -> Response:
    response: Response = client.post(
        f"/v1/sessions/{session_id}/stop",
        json={"meter_stop_wh": meter, "stopped_at": stopped_at.isoformat()},
        headers=org.auth(Role.integration),
    )
    return response


def pages(
    client: TestClient, org: Org, path: str, *, limit: int = 200, role: Role = Role.admin, **params: Any
) -> Iterator[dict[str, Any]]:
    """Each page of a list, following `next_cursor` to the end."""
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page: dict[str, Any] = ok(client.get(path, params=query, headers=org.auth(role)))
        yield page
        cursor = page["next_cursor"]
        if cursor is None:
            return


def all_items(client: TestClient, org: Org, path: str, **options: Any) -> list[dict[str, Any]]:
    """Every item of a list, walking all its pages."""
    return [item for page in pages(client, org, path, **options) for item in page["items"]]


def group_history(client: TestClient, org: Org, group_id: str) -> list[dict[str, Any]]:
    return all_items(client, org, f"/v1/user-groups/{group_id}/history")
