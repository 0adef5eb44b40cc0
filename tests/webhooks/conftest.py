"""Each webhook test on a database of its own: the worker takes due deliveries oldest first
across all organizations, and the shared test database holds the gates' deliveries to closed
ports, which would come first and make a test's own rounds wait behind them."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import migrate
from app.main import create_app
from app.settings import Settings
from tests.conftest import fresh_database_url


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    for database_url in fresh_database_url(tmp_path):
        migrate(database_url)
        yield Settings(database_url=database_url, log_level="WARNING", webhook_worker_in_process=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
