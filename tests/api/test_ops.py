import re

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.factories import Org


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
        api = client.get("/v1/charging-groups", headers={"Authorization": "Bearer ugs_000000000000_x"})
        assert api.status_code == 503
        assert api.headers["content-type"] == "application/problem+json"
        assert api.json()["type"].endswith("/service-unavailable")


def test_metrics_count_requests_by_route(client: TestClient, org: Org) -> None:
    client.get("/v1/charging-groups", headers=org.auth())
    text = client.get("/metrics").text
    assert re.search(r'http_requests_total\{method="GET",route="/v1/charging-groups",status="200"\} \d', text)
    assert "http_request_duration_seconds_bucket" in text


def test_docs_render_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page
    for asset in assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/"), f"external asset {asset}"
        assert client.get(asset).status_code == 200, asset
