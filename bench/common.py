"""Paths, sizes and small helpers shared by the harness modules."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA_DIR = BENCH / ".data"
RESULTS_DIR = BENCH / "results"
LUA_DIR = BENCH / "lua"
VENV_BIN = ROOT / ".venv" / "bin"

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Bump when the generated data changes shape: cached databases of another version are rebuilt.
GENERATOR_VERSION = 6

# The default organization (scale 1.0), as in the issue.
FULL_SIZES = {
    "user_groups": 10_000,
    "cards": 1_000_000,
    "charging_groups": 2_000,
    "connectors": 100_000,
    "sessions": 1_000_000,
    "audit_events": 200_000,
}

# UIDs the write tests add start with this (never produced by the generator, whose UIDs are hex),
# so they can be removed after the run and a cached database stays as generated.
BENCH_WRITE_UID_PREFIX = "BENCHW"
BENCH_ADMIN_KEY_NAME = "bench-admin"
BENCH_INTEGRATION_KEY_NAME = "bench-cpms"


@dataclass(frozen=True)
class Sizes:
    user_groups: int
    cards: int
    charging_groups: int
    connectors: int
    sessions: int
    audit_events: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        values = {name: max(1, round(count * scale)) for name, count in FULL_SIZES.items()}
        values["connectors"] = max(values["connectors"], 2 * values["charging_groups"])
        return cls(**values)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def scale_label(scale: float) -> str:
    if scale == 1.0:
        return "full"
    if scale == 0.01:
        return "small"
    return "s" + f"{scale:g}".replace(".", "_")


def db_name(scale: float) -> str:
    """PostgreSQL database name and SQLite file stem for a scale (BENCH_DB_PREFIX keeps two
    checkouts benchmarking on one PostgreSQL server apart)."""
    return f"{os.environ.get('BENCH_DB_PREFIX', 'ugs_bench')}_{scale_label(scale)}"


def sqlite_path(scale: float) -> Path:
    return DATA_DIR / f"{db_name(scale)}.db"


def pg_url(scale: float) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{db_name(scale)}"


def database_url(kind: str, scale: float) -> str:
    if kind == "pg":
        return pg_url(scale)
    return f"sqlite+aiosqlite:///{sqlite_path(scale)}"


def meta_path(kind: str, scale: float) -> Path:
    return DATA_DIR / f"{kind}_{db_name(scale)}.json"


def read_meta(kind: str, scale: float) -> dict[str, Any] | None:
    path = meta_path(kind, scale)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def write_meta(kind: str, scale: float, meta: dict[str, Any]) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    meta_path(kind, scale).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def schema_fingerprint() -> str:
    """SHA-256 of the migration files: a migration edited in place (same revision id) changes it."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def code_fingerprint() -> str:
    """SHA-256 of the service's code as it is on disk (app/ and migrations/), committed or not."""
    digest = hashlib.sha256()
    for folder in ("app", "migrations"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def as_uuid_text(value: Any) -> str:
    """A UUID as the API writes it, from asyncpg (UUID) or SQLite (32 hex chars)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(uuid.UUID(hex=str(value)))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
