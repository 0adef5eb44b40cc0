"""A read replica is a PostgreSQL streaming replica: refused beside SQLite at start-up."""

from pathlib import Path

import pytest

from app.db import Database
from app.settings import Settings


def test_a_replica_beside_sqlite_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        database_replica_url="postgresql://postgres@127.0.0.1:5432/postgres",
    )
    with pytest.raises(ValueError, match="DATABASE_REPLICA_URL needs PostgreSQL"):
        Database(settings)
