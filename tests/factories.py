"""The one home of test helpers. Define none twice.

* `make_org` and the `insert_*` factories write directly, through the services inside a
  UnitOfWork (audit records, counters, local lists and events as the API writes them, acted by the
  org's admin key), and answer what the API would have: use them for setup.
* `create_*`, `add_card`, `authorize`, `start_session`, ... go over HTTP: use them where the
  request itself is the thing under test.
* The helpers many modules use: free ports, page walking, common calls.
"""

import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.enums import Role
from app.routers import activation as activation_routes
from app.routers import charge_points as charge_point_routes
from app.routers import charging_groups as charging_group_routes
from app.routers import connectors as connector_routes
from app.routers import sessions as session_routes
from app.routers import user_groups as user_group_routes
from app.schemas.activation import ActivationInput
from app.schemas.cards import CardCreate, CardRead
from app.schemas.charging import ChargePointCreate, ChargingGroupCreate, ConnectorCreate
from app.schemas.sessions import SessionStart
from app.schemas.tariffs import ScheduledTariffInput, TariffRead
from app.schemas.user_groups import UserGroupCreate
from app.services import (
    activation,
    api_keys,
    card_batches,
    cards,
    charge_points,
    charging_groups,
    connectors,
    sessions,
    tariffs,
    user_groups,
)
from app.services.context import RequestContext

T = TypeVar("T")


@dataclass
class Org:
    id: uuid.UUID
    name: str
    keys: dict[Role, str] = field(default_factory=dict)
    key_ids: dict[Role, uuid.UUID] = field(default_factory=dict)

    def auth(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def context(self, role: Role = Role.admin) -> RequestContext:
        """The caller that `auth(role)` authenticates as, for writes made directly."""
        return RequestContext(self.id, self.key_ids[role], f"{role.value} key", role, None)


def make_org(client: TestClient) -> Org:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def create() -> Org:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, f"org-{uuid.uuid4().hex[:10]}")
            org = Org(organization.id, organization.name)
            ctx = api_keys.system_context(organization.id, "tests")
            for role in Role:
                key, secret = await api_keys.create_api_key(session, ctx, f"{role.value} key", role)
                org.keys[role] = secret
                org.key_ids[role] = key.id
        return org

    assert client.portal is not None
    return client.portal.call(create)


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def charging_group_body(**fields: Any) -> dict[str, Any]:
    return {"name": f"CG {uuid.uuid4().hex[:8]}", **fields}


def charge_point_body(charging_group_id: str, **fields: Any) -> dict[str, Any]:
    return {"charging_group_id": charging_group_id, "identity": f"CP-{uuid.uuid4().hex[:8]}", **fields}


def connector_body(charge_point_id: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "connector_number": number,
        "evse_id": f"DE*TST*E{uuid.uuid4().hex[:8].upper()}*{number}",
        "plug_type": "type2",
        "max_power_kw": "22",
        **fields,
    }


def create_charging_group(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    body = charging_group_body(**fields)
    return ok(client.post("/v1/charging-groups", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def create_charge_point(
    client: TestClient, org: Org, charging_group_id: str, **fields: Any
) -> dict[str, Any]:
    body = charge_point_body(charging_group_id, **fields)
    return ok(client.post("/v1/charge-points", json=body, headers=org.auth()), 201)  # type: ignore[no-any-return]


def create_connector(
    client: TestClient, org: Org, charge_point_id: str, number: int = 1, **fields: Any
) -> dict[str, Any]:
    body = connector_body(charge_point_id, number, **fields)
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


# Setup written directly (services in a UnitOfWork), answering what the API would have. ---------


def in_unit_of_work(client: TestClient, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Runs `work` in one transaction of the app's database, on the app's event loop."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def run() -> T:
        async with UnitOfWork(db) as session:
            return await work(session)

    assert client.portal is not None
    return client.portal.call(run)


def _json(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")  # type: ignore[no-any-return]


def insert_charging_group(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    data = ChargingGroupCreate.model_validate(charging_group_body(**fields))

    async def work(session: AsyncSession) -> Any:
        view = await charging_groups.create_charging_group(session, org.context(), data)
        return charging_group_routes.to_read(view)

    return _json(in_unit_of_work(client, work))


def insert_charge_point(
    client: TestClient, org: Org, charging_group_id: str, **fields: Any
) -> dict[str, Any]:
    data = ChargePointCreate.model_validate(charge_point_body(charging_group_id, **fields))

    async def work(session: AsyncSession) -> Any:
        return charge_point_routes.to_read(
            await charge_points.create_charge_point(session, org.context(), data)
        )

    return _json(in_unit_of_work(client, work))


def insert_connector(
    client: TestClient, org: Org, charge_point_id: str, number: int = 1, **fields: Any
) -> dict[str, Any]:
    body = connector_body(charge_point_id, number, **fields)
    data = ConnectorCreate.model_validate(body)

    async def work(session: AsyncSession) -> Any:
        return connector_routes.to_read(await connectors.create_connector(session, org.context(), data))

    return _json(in_unit_of_work(client, work))


def insert_site(client: TestClient, org: Org, connectors: int = 2) -> dict[str, Any]:
    """`make_site`, written directly: a charging group, one controller, `connectors` connectors."""
    group = insert_charging_group(client, org)
    charge_point = insert_charge_point(client, org, group["id"])
    created = [insert_connector(client, org, charge_point["id"], n) for n in range(1, connectors + 1)]
    return {"group": group, "charge_point": charge_point, "connectors": created}


def insert_user_group(client: TestClient, org: Org, name: str | None = None, **fields: Any) -> dict[str, Any]:
    data = UserGroupCreate.model_validate({"name": name or f"Guests {uuid.uuid4().hex[:8]}", **fields})

    async def work(session: AsyncSession) -> Any:
        return user_group_routes.to_read(await user_groups.create_user_group(session, org.context(), data))

    return _json(in_unit_of_work(client, work))


def insert_tariff(client: TestClient, org: Org, user_group_id: str, **tariff: Any) -> dict[str, Any]:
    data = ScheduledTariffInput.model_validate(tariff)

    async def work(session: AsyncSession) -> Any:
        version = await tariffs.set_tariff(session, org.context(), uuid.UUID(user_group_id), data)
        return TariffRead.model_validate(version)

    return _json(in_unit_of_work(client, work))


def insert_activation(client: TestClient, org: Org, user_group_id: str, **activation_: Any) -> dict[str, Any]:
    data = ActivationInput.model_validate(activation_)

    async def work(session: AsyncSession) -> Any:
        group_id = uuid.UUID(user_group_id)
        view = await activation.replace_activation(
            session, org.context(), group_id, data, activation_routes.FIRST_PAGE
        )
        return activation_routes.to_read(view)

    return _json(in_unit_of_work(client, work))


def insert_card(client: TestClient, org: Org, user_group_id: str, uid: str, **fields: Any) -> dict[str, Any]:
    data = CardCreate.model_validate({"uid": uid, **fields})

    async def work(session: AsyncSession) -> Any:
        return CardRead.model_validate(
            await cards.add_card(session, org.context(), uuid.UUID(user_group_id), data)
        )

    return _json(in_unit_of_work(client, work))


def insert_cards(
    client: TestClient, org: Org, user_group_id: str, cards: Iterable[str | dict[str, Any]]
) -> int:
    """Many cards at once (the bulk endpoint's all-or-nothing batch): UIDs, or `CardCreate` bodies."""
    batch = card_batches.CardBatch.from_json([{"uid": c} if isinstance(c, str) else c for c in cards])

    async def work(session: AsyncSession) -> int:
        return await card_batches.add_cards(session, org.context(), uuid.UUID(user_group_id), batch)

    return in_unit_of_work(client, work)


def insert_session(
    client: TestClient, org: Org, uid: str, connector_id: str, started_at: str, meter_start_wh: int = 0
) -> dict[str, Any]:
    """`start_session`, written directly: the session the backend reports, as the API records it."""
    data = SessionStart.model_validate(
        {
            "transaction_id": f"tx-{uuid.uuid4().hex[:12]}",
            "id_token": uid,
            "connector_id": connector_id,
            "meter_start_wh": meter_start_wh,
            "started_at": started_at,
        }
    )
    cache_seconds: int = client.app.state.settings.authorization_cache_seconds  # type: ignore[attr-defined]

    async def work(session: AsyncSession) -> Any:
        started, _ = await sessions.start_session(session, org.context(Role.integration), data, cache_seconds)
        return session_routes.to_read(started)

    return _json(in_unit_of_work(client, work))


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


def cards_of(client: TestClient, org: Org, group_id: str) -> list[dict[str, Any]]:
    """Every card of a user group."""
    return all_items(client, org, f"/v1/user-groups/{group_id}/cards")


def subscribe(client: TestClient, org: Org, url: str, role: Role = Role.integration, **fields: Any) -> Any:
    """A webhook endpoint for `url`, created over HTTP."""
    response = client.post("/v1/webhook-endpoints", json={"url": url, **fields}, headers=org.auth(role))
    return ok(response, 201)
