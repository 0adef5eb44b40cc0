"""The hot path's note of an unknown UID: one entry per (organization, UID, charging group), bounded."""

import uuid
from datetime import UTC, datetime, timedelta

from app.services.unknown_cards import SightingBuffer


def test_repeated_sightings_add_up_and_the_buffer_is_bounded() -> None:
    buffer = SightingBuffer(limit=2)
    org, here, there = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    buffer.note(org, "04AA", here, first)
    buffer.note(org, "04AA", here, first + timedelta(seconds=3))
    buffer.note(org, "04AA", there, first)
    buffer.note(org, "04BB", here, first)  # a third distinct entry: over the limit, dropped
    buffer.note(org, "04AA", here, first + timedelta(seconds=5))  # a known entry still counts
    pending = {(s.uid, s.charging_group_id): s for s in buffer._pending.values()}
    assert set(pending) == {("04AA", here), ("04AA", there)}
    seen = pending[("04AA", here)]
    assert (seen.first_seen_at, seen.last_seen_at, seen.seen_count) == (
        first,
        first + timedelta(seconds=5),
        3,
    )
    assert buffer.dropped == 1
