from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """All configuration comes from the environment (or a `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'user_groups.db'}",
        description="SQLAlchemy URL; sqlite+aiosqlite:// or postgresql+asyncpg://",
    )
    database_replica_url: str | None = Field(
        default=None,
        description="a streaming replica of DATABASE_URL (PostgreSQL); lists, pages, history, exports "
        "and reports read from it (docs/scaling.md)",
    )
    database_pgbouncer: bool = Field(
        default=False,
        description="the URLs point at PgBouncer in transaction pooling mode: no statement cache, "
        "unique prepared statement names, no statement_timeout startup parameter",
    )
    db_replica_retry_seconds: float = Field(
        default=5.0, gt=0, description="after the replica failed to connect, read from the primary this long"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, gt=0)
    db_request_timeout_seconds: float = Field(default=5.0, gt=0)
    authorization_cache_seconds: int = Field(default=300, ge=0)
    # Unknown UIDs the hot path noted are written this often, in one batch (README: unknown cards).
    unknown_cards_flush_seconds: float = Field(default=1.0, gt=0)
    idempotency_ttl_hours: float = Field(default=24, gt=0)
    idempotency_wait_seconds: float = Field(default=5, gt=0)
    idempotency_purge_interval_seconds: float = Field(default=600, gt=0)
    # Webhooks (README "Webhooks"; docs/adr-002-change-feed-and-webhooks.md).
    webhook_worker_in_process: bool = Field(
        default=True,
        description="deliver webhooks from the API process too; false when `ugs worker` runs apart",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None, description="Fernet key that encrypts webhook signing secrets at rest"
    )
    webhook_secret_key_file: Path = Field(
        default=DEFAULT_DATA_DIR / "webhook_secret.key",
        description="used (and created once) when webhook_secret_key is not set",
    )
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs a webhook may reach although they are loopback or private, e.g. 127.0.0.0/8",
    )
    # A fallback: the API process wakes its worker at commit, PostgreSQL wakes any by NOTIFY.
    webhook_poll_interval_seconds: float = Field(default=0.2, gt=0)
    webhook_batch_size: int = Field(default=50, gt=0, le=1000)
    # Deliveries one worker has on the way at once; it leases more as each one ends.
    webhook_concurrency: int = Field(default=50, gt=0, le=1000)
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    # Longer than a try can take, so a delivery is never sent by two workers at once.
    webhook_lease_seconds: float = Field(default=60, gt=0)
    # After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (27.6 h in all).
    webhook_retry_delays_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    webhook_disable_after_hours: float = Field(default=120, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste (postgresql://, sqlite://) and pick our async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
