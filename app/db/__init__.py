"""Engine, pool, sessions and the unit of work (the only place that commits), below every layer."""

from app.db.database import (
    LSN_PATTERN,
    ON_REPLICA,
    Database,
    PoolStatus,
    UnitOfWork,
    open_session,
    signal_on_commit,
)
from app.db.engine import (
    APPLICATION_NAME,
    configure_sqlite,
    create_engine,
    create_migration_engine,
    is_sqlite,
)
from app.db.faults import is_database_unavailable

__all__ = [
    "APPLICATION_NAME",
    "LSN_PATTERN",
    "ON_REPLICA",
    "Database",
    "PoolStatus",
    "UnitOfWork",
    "configure_sqlite",
    "create_engine",
    "create_migration_engine",
    "is_database_unavailable",
    "is_sqlite",
    "open_session",
    "signal_on_commit",
]
