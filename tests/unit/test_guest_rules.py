"""The guest rules' pure parts: windows past midnight, the quota periods SQLite computes."""

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.db.engine import period_start
from app.enums import (
    ActivationScope,
    AuthorizationReason,
    PlugType,
    QuotaPeriod,
    RuleVerdict,
    UserGroupStatus,
)
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


# The hot path's decision (first failure only, rules skipped without any) is explain's --------------

MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def any_facts(draw: st.DrawFn) -> AuthorizationFacts:
    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    return facts(
        access_control=draw(st.booleans()),
        card_id=maybe(st.just(uuid.uuid4())),
        card_blocked=draw(st.booleans()),
        card_valid_from=maybe(MOMENTS),
        card_valid_until=maybe(MOMENTS),
        user_group_status=draw(st.sampled_from(UserGroupStatus)),
        user_group_scope=draw(st.sampled_from(ActivationScope)),
        active_on_charging_group=draw(st.booleans()),
        time_zone=maybe(st.sampled_from(["Europe/Berlin", "UTC", "Pacific/Kiritimati"])),
        plug_type=maybe(st.sampled_from(PlugType)),
        max_power_kw=maybe(st.decimals(0, 400, places=1)),
        card_first_used_at=maybe(MOMENTS),
        rule_group_valid_from=maybe(MOMENTS),
        rule_group_valid_until=maybe(MOMENTS),
        rule_card_validity_hours=maybe(st.integers(1, 1000)),
        rule_allowed_weekdays=maybe(st.integers(0, 127)),
        rule_allowed_from_minute=maybe(st.integers(0, 1439)),
        rule_allowed_until_minute=maybe(st.integers(0, 1439)),
        rule_allowed_plug_types=maybe(st.sampled_from(["type2", "ccs2,chademo", ""])),
        rule_max_power_kw=maybe(st.decimals(0, 400, places=1)),
        rule_max_concurrent_sessions=maybe(st.integers(0, 3)),
        rule_quota_period=maybe(st.sampled_from(QuotaPeriod)),
        rule_card_sessions=maybe(st.integers(0, 5)),
        rule_group_energy_kwh=maybe(st.decimals(0, 100, places=2)),
        card_active_sessions=maybe(st.integers(0, 4)),
        card_period_sessions=maybe(st.integers(0, 6)),
        group_period_kwh=maybe(st.decimals(0, 120, places=2)),
    )


@given(any_facts(), MOMENTS)
def test_the_decision_is_the_first_failure_explain_shows(
    given_facts: AuthorizationFacts, now: datetime
) -> None:
    decision = policy.decide(given_facts, now, 300)
    explained = policy.decide(given_facts, now, 300, explain=True)
    assert dataclasses.replace(explained, checks=()) == decision
    failed = [check for check in explained.checks if check.verdict == RuleVerdict.failed]
    if not given_facts.access_control:
        assert decision.decided_by == "access_control" and failed == []
    else:
        assert decision.decided_by == (failed[0].rule if failed else None)
        assert decision.reason == (failed[0].reason if failed else AuthorizationReason.accepted)


@given(any_facts(), MOMENTS)
def test_without_any_rule_set_no_rule_check_applies(given_facts: AuthorizationFacts, now: datetime) -> None:
    rule_fields = {name: None for name in AuthorizationFacts._fields if name.startswith("rule_")}
    no_rules = given_facts._replace(**rule_fields)  # type: ignore[arg-type]
    assert not guest_rules.has_rules(no_rules)
    assert [check(no_rules, now)[0] for _, check in guest_rules.RULE_CHECKS] == [RuleVerdict.not_set] * len(
        guest_rules.RULE_CHECKS
    )
