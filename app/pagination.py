"""Opaque keyset cursors over (created_at, id): a page costs the same on page 1 and page 10,000."""

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Keyset:
    created_at: datetime
    id: uuid.UUID


class InvalidCursor(ValueError):
    pass


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Keyset:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, id_ = json.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise InvalidCursor("cursor time has no zone")
        return Keyset(parsed, uuid.UUID(id_))
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise InvalidCursor("not a cursor returned by this API") from error


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Keyset | None
