from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """All configuration comes from the environment (or a `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'user_groups.db'}",
        description="SQLAlchemy URL; sqlite+aiosqlite:// or postgresql+asyncpg://",
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
    idempotency_ttl_hours: float = Field(default=24, gt=0)
    idempotency_wait_seconds: float = Field(default=5, gt=0)
    idempotency_purge_interval_seconds: float = Field(default=600, gt=0)


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
