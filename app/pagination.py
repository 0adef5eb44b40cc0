"""Opaque keyset cursors over (created_at, id): a page costs the same on page 1 and page 10,000.

A cursor is `base64url(JSON [created_at, id]) "." base64url(tag)`, where the tag is a keyed BLAKE2b
digest of the JSON. The tag is an integrity check, not a secret: a cursor the client garbled,
truncated or edited is refused with a 422 naming `cursor` instead of silently paging from some
other position. (Forging one on purpose needs the key from this open source and gains nothing: a
cursor only positions the caller in its own organization's list, as a filter would.)
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

_TAG_KEY = b"user-groups-service/cursor/v2"
_TAG_BYTES = 12
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


@dataclass(frozen=True)
class Keyset:
    created_at: datetime
    id: uuid.UUID


class InvalidCursor(ValueError):
    pass


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), str(id_)], separators=(",", ":")).encode()
    return f"{_b64encode(raw)}.{_b64encode(_tag(raw))}"


def decode_cursor(cursor: str) -> Keyset:
    """The position a cursor of `encode_cursor` names; anything else raises InvalidCursor."""
    raw = _checked(cursor)
    # Only our own encoder produces a matching tag; the checks below guard against a key mix-up.
    try:
        created_at_text, id_text = json.loads(raw)
        created_at = datetime.fromisoformat(created_at_text)
        if created_at.tzinfo is None:
            raise ValueError("no zone")
        return Keyset(created_at.astimezone(UTC), uuid.UUID(id_text))
    except (ValueError, TypeError, AttributeError, OverflowError) as error:
        raise InvalidCursor("not a cursor returned by this API; pass `next_cursor` unchanged") from error


@dataclass(frozen=True)
class FeedPosition:
    """A place in the change feed: after the event (txid, seq) (see app/models/events.py)."""

    txid: int
    seq: int


FEED_START = FeedPosition(-1, 0)


def encode_feed_cursor(position: FeedPosition) -> str:
    raw = json.dumps(["feed", position.txid, position.seq], separators=(",", ":")).encode()
    return f"{_b64encode(raw)}.{_b64encode(_tag(raw))}"


def decode_feed_cursor(cursor: str) -> FeedPosition:
    """The position a cursor of `encode_feed_cursor` names; anything else (a list's cursor too)
    raises InvalidCursor."""
    raw = _checked(cursor)
    try:
        kind, txid, seq = json.loads(raw)
        if kind != "feed" or type(txid) is not int or type(seq) is not int:
            raise ValueError("not a feed position")
        return FeedPosition(txid, seq)
    except (ValueError, TypeError) as error:
        raise InvalidCursor("not a cursor of the event feed; pass `next_cursor` unchanged") from error


def _checked(cursor: str) -> bytes:
    payload, dot, tag = cursor.partition(".")
    if not dot or not _BASE64URL.fullmatch(payload) or not _BASE64URL.fullmatch(tag):
        raise InvalidCursor("not a cursor returned by this API; pass `next_cursor` unchanged")
    try:
        raw, given_tag = _b64decode(payload), _b64decode(tag)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("not a cursor returned by this API; pass `next_cursor` unchanged") from error
    if not hmac.compare_digest(given_tag, _tag(raw)):
        raise InvalidCursor("the cursor was changed or truncated; pass `next_cursor` unchanged")
    return raw


def _tag(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, key=_TAG_KEY, digest_size=_TAG_BYTES).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    if len(text) % 4 == 1:  # no base64 text has this length
        raise ValueError("truncated")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Keyset | None
