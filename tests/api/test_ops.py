import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient

from app.cli import alembic_config, migrate
from app.main import CORS_EXPOSED_HEADERS, create_app
from app.settings import Settings
from tests.conftest import fresh_database_url
from tests.factories import Org

EXTERNAL_URL = re.compile(r"https?://")


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own (SQLite file, or a new PostgreSQL database) with no schema."""
    yield from fresh_database_url(tmp_path)


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_readiness_fails_when_the_database_is_unreachable() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none", db_pool_timeout_seconds=1
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "database unavailable"}
        api = client.get("/v1/charging-groups", headers={"Authorization": "Bearer ugs_000000000000_x"})
        assert api.status_code == 503
        assert api.headers["content-type"] == "application/problem+json"
        assert api.json()["type"].endswith("/service-unavailable")


def test_readiness_waits_for_the_migrations(empty_database_url: str) -> None:
    """Empty: 503 (every /v1 call would fail); one revision short: 503; at the head: 200."""
    settings = Settings(database_url=empty_database_url, log_level="WARNING")
    with TestClient(create_app(settings)) as client:
        empty = client.get("/readyz")
        assert empty.status_code == 503
        assert empty.json() == {"status": "database not migrated; run: ugs migrate"}

        config = alembic_config(empty_database_url)
        config.attributes["configure_logging"] = False
        command.upgrade(config, "head")
        command.downgrade(config, "-1")
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert "not at the migration head" in behind.json()["status"]

        migrate(empty_database_url)
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


def _series(text: str, name: str) -> dict[str, float]:
    return {
        labels: float(value)
        for labels, value in re.findall(rf"^{name}(\{{.*\}})? (\S+)$", text, flags=re.MULTILINE)
    }


def test_metrics_count_requests_by_route_template(client: TestClient, org: Org) -> None:
    client.get("/v1/charging-groups", headers=org.auth())
    # A path whose parameter value also occurs in the fixed part of the path ("c" in "cards").
    client.get("/v1/cards/c", headers=org.auth())
    client.get("/v1/charging-groups/charging-groups", headers=org.auth())
    text = client.get("/metrics").text
    requests = _series(text, "http_requests_total")
    routes = {re.search(r'route="([^"]*)"', labels).group(1) for labels in requests}  # type: ignore[union-attr]
    assert {"/v1/charging-groups", "/v1/cards/{card_id}", "/v1/charging-groups/{charging_group_id}"} <= routes
    assert all(route.startswith("/") or route == "unmatched" for route in routes), routes
    assert not any("{card_id}ards" in route for route in routes), routes
    assert "http_request_duration_seconds_bucket" in text


def test_metrics_show_the_pool_and_the_build(client: TestClient) -> None:
    text = client.get("/metrics").text
    connections = _series(text, "db_pool_connections")
    assert set(connections) == {'{state="in_use"}', '{state="idle"}'}
    assert all(value >= 0 for value in connections.values())
    assert _series(text, "db_pool_waiting") == {"": 0.0}
    assert _series(text, "db_pool_max_connections")[""] > 0
    build = _series(text, "build_info")
    assert len(build) == 1 and next(iter(build.values())) == 1.0
    labels = next(iter(build))
    assert f'version="{metadata.version("user-groups-service")}"' in labels
    assert re.search(r'commit="([0-9a-f]{40}|unknown)"', labels), labels


def test_cors_exposes_the_headers_the_dashboard_reads(settings: Settings, org: Org) -> None:
    origin = "https://dashboard.example"
    app = create_app(settings.model_copy(update={"cors_origins": [origin]}))
    with TestClient(app) as client:
        preflight = client.options(
            "/v1/charging-groups",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, if-match",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        response = client.get("/v1/charging-groups", headers={"Origin": origin, **org.auth()})
        assert response.status_code == 200
        exposed_header = response.headers["access-control-expose-headers"]
        exposed = {name.strip().lower() for name in exposed_header.split(",")}
        wanted = {
            "etag",
            "location",
            "x-request-id",
            "idempotent-replayed",
            "retry-after",
            "x-consistent-after",
        }
        assert wanted <= exposed
        assert {name.lower() for name in CORS_EXPOSED_HEADERS} == wanted
        other = client.get("/v1/charging-groups", headers={"Origin": "https://evil.example", **org.auth()})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_render_without_the_internet(client: TestClient, page: str) -> None:
    html = client.get(page).text
    assert not EXTERNAL_URL.search(html), EXTERNAL_URL.findall(html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for asset in assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/"), f"external asset {asset}"
        response = client.get(asset)
        assert response.status_code == 200, asset
        if asset.endswith(".js"):
            # What a script fetches by itself: Redoc's logo came from cdn.redoc.ly.
            assert "cdn.redoc.ly" not in response.text
            assert not re.search(r'src:"https?://', response.text), asset
    if page == "/docs":
        # Swagger UI asks validator.swagger.io for a badge unless told not to.
        assert '"validatorUrl": null' in html
