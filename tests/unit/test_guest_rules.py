"""The guest rules' pure parts: windows past midnight, the quota periods SQLite computes."""

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.db.engine import period_start
from app.enums import ActivationScope, AuthorizationReason, UserGroupStatus
from app.repositories.authorization import AuthorizationFacts
from app.services import guest_rules, policy


def facts(**rules: Any) -> AuthorizationFacts:
    base = AuthorizationFacts(
        uuid.uuid4(), uuid.uuid4(), True, uuid.uuid4(), False, None, None, uuid.uuid4(),
        UserGroupStatus.active, ActivationScope.all, False,
    )  # fmt: skip
    return base._replace(**rules)


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-11-27T23:30:00", True),  # Friday night, in the window that began Friday
        ("2026-11-28T01:30:00", True),  # Saturday 01:30: still Friday's window
        ("2026-11-28T23:30:00", False),  # Saturday's own window: Saturday is not allowed
        ("2026-11-27T12:00:00", False),  # outside the hours
    ],
)
def test_a_window_past_midnight_belongs_to_the_day_it_began(local: str, allowed: bool) -> None:
    friday = 1 << 4
    rules = facts(
        time_zone="Europe/Berlin", rule_allowed_weekdays=friday, rule_allowed_from_minute=22 * 60,
        rule_allowed_until_minute=6 * 60,
    )  # fmt: skip

    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    assert guest_rules.in_allowed_time(rules, moment) is allowed
    decision = policy.decide(rules, moment, 300)
    assert (decision.reason == AuthorizationReason.accepted) is allowed


@pytest.mark.parametrize(
    ("at", "zone", "period", "start"),
    [
        ("2026-11-26 04:00:00.000000", "Europe/Berlin", "day", "2026-11-25 23:00:00.000000"),
        ("2026-11-26 04:00:00.000000", "Europe/Berlin", "week", "2026-11-22 23:00:00.000000"),
        ("2026-11-26 04:00:00.000000", "Europe/Berlin", "month", "2026-10-31 23:00:00.000000"),
        ("2026-03-30 12:00:00.000000", "Europe/Berlin", "month", "2026-02-28 23:00:00.000000"),  # before DST
        ("2026-11-26 04:00:00.000000", "Pacific/Kiritimati", "day", "2026-11-25 10:00:00.000000"),
        ("2026-11-26 04:00:00.000000", None, "day", "2026-11-26 00:00:00.000000"),
    ],
)
def test_sqlite_quota_period_start(at: str, zone: str | None, period: str, start: str) -> None:
    assert period_start(at, zone, period) == start
