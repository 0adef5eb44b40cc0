"""The authorization decision as an ordered list of checks (README: the decision table).

Pure functions over the facts (`AuthorizationFacts`, read in one statement) and a moment: no
session, no I/O. `policy.decide` takes the first check that fails; `POST /v1/authorize/explain`
shows every check with its verdict. Both read the same list, so they cannot disagree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from zoneinfo import ZoneInfo

from app.enums import ActivationScope, AuthorizationReason, PlugType, RuleVerdict, UserGroupStatus
from app.repositories.authorization import AuthorizationFacts


@dataclass(frozen=True)
class Check:
    rule: str
    verdict: RuleVerdict
    reason: AuthorizationReason | None = None  # the refusal, when failed
    detail: str | None = None


PASSED = (RuleVerdict.passed, None, None)
NOT_SET = (RuleVerdict.not_set, None, None)
Outcome = tuple[RuleVerdict, AuthorizationReason | None, str | None]


def _fail(reason: AuthorizationReason, detail: str) -> Outcome:
    return RuleVerdict.failed, reason, detail


def plug_types_of(text: str) -> list[PlugType]:
    return [PlugType(value) for value in text.split(",") if value]


def local_time(facts: AuthorizationFacts, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(facts.time_zone or "UTC"))


# The card's own checks (the seed's decision) ----------------------------------------------------


def _card_known(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.card_id is None:
        return _fail(AuthorizationReason.unknown_card, "the UID is not registered in the organization")
    return PASSED


def _card_blocked(f: AuthorizationFacts, now: datetime) -> Outcome:
    return _fail(AuthorizationReason.card_blocked, "the card is blocked") if f.card_blocked else PASSED


def _card_validity(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.card_valid_from is None and f.card_valid_until is None:
        return NOT_SET
    if f.card_valid_from is not None and now < f.card_valid_from:
        return _fail(AuthorizationReason.card_not_yet_valid, f"valid from {f.card_valid_from.isoformat()}")
    if f.card_valid_until is not None and now >= f.card_valid_until:
        return _fail(AuthorizationReason.card_expired, f"valid until {f.card_valid_until.isoformat()}")
    return PASSED


def _group_archived(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.user_group_status == UserGroupStatus.archived:
        return _fail(AuthorizationReason.group_archived, "the card's user group is archived")
    return PASSED


def _location(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.user_group_scope != ActivationScope.all and not f.active_on_charging_group:
        return _fail(
            AuthorizationReason.not_at_this_location, "the group is not active on this charging group"
        )
    return PASSED


# The group's optional rules (issue 13) ----------------------------------------------------------


def _group_validity(f: AuthorizationFacts, now: datetime) -> Outcome:
    start, end = f.rule_group_valid_from, f.rule_group_valid_until
    if start is None and end is None:
        return NOT_SET
    if start is not None and now < start:
        return _fail(AuthorizationReason.group_not_yet_valid, f"the group is valid from {start.isoformat()}")
    if end is not None and now >= end:
        return _fail(AuthorizationReason.group_expired, f"the group was valid until {end.isoformat()}")
    return PASSED


def first_use_end(f: AuthorizationFacts) -> datetime | None:
    """The card's end under the rule: the one fixed at its first use, or, for a card first used
    before the rule was set, its first use plus the rule's hours."""
    if f.rule_card_validity_hours is None or f.card_first_used_at is None:
        return None
    return f.card_expires_at or f.card_first_used_at + timedelta(hours=f.rule_card_validity_hours)


def _first_use(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_card_validity_hours is None:
        return NOT_SET
    end = first_use_end(f)
    if end is not None and now >= end:
        first = f.card_first_used_at.isoformat() if f.card_first_used_at else "?"
        detail = f"first used {first}, valid until {end.isoformat()}"
        return _fail(AuthorizationReason.card_expired_after_first_use, detail)
    return PASSED


def in_allowed_time(f: AuthorizationFacts, now: datetime) -> bool:
    local = local_time(f, now)
    minute = local.hour * 60 + local.minute
    start, end = f.rule_allowed_from_minute, f.rule_allowed_until_minute
    day = local.weekday()
    if start is not None and end is not None and end <= start and minute < end:
        day = (day - 1) % 7  # after midnight in a window that began the day before
    if f.rule_allowed_weekdays is not None and not f.rule_allowed_weekdays & (1 << day):
        return False
    if start is None or end is None:
        return True
    return start <= minute < end if start < end else minute >= start or minute < end


def _allowed_times(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_allowed_weekdays is None and f.rule_allowed_from_minute is None:
        return NOT_SET
    if in_allowed_time(f, now):
        return PASSED
    local = local_time(f, now)
    return _fail(
        AuthorizationReason.not_at_this_time, f"{local.strftime('%A %H:%M')} in {f.time_zone or 'UTC'}"
    )


def _allowed_connectors(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_allowed_plug_types is None and f.rule_max_power_kw is None:
        return NOT_SET
    if f.rule_allowed_plug_types is not None and f.plug_type not in plug_types_of(f.rule_allowed_plug_types):
        return _fail(AuthorizationReason.connector_not_allowed, f"plug type {f.plug_type} is not allowed")
    if f.rule_max_power_kw is not None and (f.max_power_kw or Decimal(0)) > f.rule_max_power_kw:
        detail = f"{f.max_power_kw} kW is above the allowed {f.rule_max_power_kw} kW"
        return _fail(AuthorizationReason.connector_not_allowed, detail)
    return PASSED


def _concurrent(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_max_concurrent_sessions is None:
        return NOT_SET
    active = f.card_active_sessions or 0
    if active >= f.rule_max_concurrent_sessions:
        detail = f"{active} active sessions, at most {f.rule_max_concurrent_sessions}"
        return _fail(AuthorizationReason.concurrent_sessions, detail)
    return PASSED


def _quota(
    kwh_limit: Decimal | None, kwh_used: Decimal | None, count_limit: int | None, count_used: int | None
) -> str | None:
    """What is used up, or None."""
    if kwh_limit is not None and (kwh_used or Decimal(0)) >= kwh_limit:
        return f"{kwh_used or 0} of {kwh_limit} kWh used"
    if count_limit is not None and (count_used or 0) >= count_limit:
        return f"{count_used or 0} of {count_limit} sessions used"
    return None


def _card_quota(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_card_energy_kwh is None and f.rule_card_sessions is None:
        return NOT_SET
    used_up = _quota(f.rule_card_energy_kwh, f.card_period_kwh, f.rule_card_sessions, f.card_period_sessions)
    if used_up:
        return _fail(AuthorizationReason.card_quota_used_up, f"this {f.rule_quota_period}: {used_up}")
    return PASSED


def _group_quota(f: AuthorizationFacts, now: datetime) -> Outcome:
    if f.rule_group_energy_kwh is None and f.rule_group_sessions is None:
        return NOT_SET
    used = _quota(f.rule_group_energy_kwh, f.group_period_kwh, f.rule_group_sessions, f.group_period_sessions)
    if used:
        return _fail(AuthorizationReason.group_quota_used_up, f"this {f.rule_quota_period}: {used}")
    return PASSED


# The order of the decision table; the first failure decides. The card's own checks, then the
# group's rules, each of which is not set when its rule fields are all None.
CheckFunction = Callable[[AuthorizationFacts, datetime], Outcome]
CARD_CHECKS: list[tuple[str, CheckFunction]] = [
    ("card_known", _card_known),
    ("card_blocked", _card_blocked),
    ("card_validity", _card_validity),
    ("group_archived", _group_archived),
    ("location", _location),
]
RULE_CHECKS: list[tuple[str, CheckFunction]] = [
    ("group_validity", _group_validity),
    ("card_first_use", _first_use),
    ("allowed_times", _allowed_times),
    ("allowed_connectors", _allowed_connectors),
    ("concurrent_sessions", _concurrent),
    ("card_quota", _card_quota),
    ("group_quota", _group_quota),
]
CHECKS = [*CARD_CHECKS, *RULE_CHECKS]
UNKNOWN_CARD_CHECKS = CARD_CHECKS[:1]
RULE_NAMES = ["access_control", *(name for name, _ in CHECKS)]

# The facts' rule fields: all None when the group has no current rule set (or one that sets nothing).
_rule_fields = itemgetter(
    *(i for i, name in enumerate(AuthorizationFacts._fields) if name.startswith("rule_"))
)


def has_rules(facts: AuthorizationFacts) -> bool:
    """Whether any rule is set. Without one every rule check is not set, so the decision needs
    only the card's own checks (the common case on the hot path)."""
    rules: tuple[object, ...] = _rule_fields(facts)
    return rules.count(None) != len(rules)


def first_failure_of(facts: AuthorizationFacts, now: datetime) -> tuple[str, Outcome] | None:
    """The first check that fails, the one `evaluate` would show first, without building every
    verdict: the decision's way (`policy.decide`). Under access control only."""
    # An unknown card: the checks that need a card are not set.
    checks = UNKNOWN_CARD_CHECKS if facts.card_id is None else CHECKS if has_rules(facts) else CARD_CHECKS
    for name, check in checks:
        outcome = check(facts, now)
        if outcome[0] == RuleVerdict.failed:
            return name, outcome
    return None


def evaluate(facts: AuthorizationFacts, now: datetime) -> list[Check]:
    """Every check with its verdict. Access control off (free charging) makes none of them apply;
    an unknown card leaves the checks that need a card not set."""
    if not facts.access_control:
        return [Check(name, RuleVerdict.not_set) for name in RULE_NAMES]
    checks = [Check("access_control", RuleVerdict.passed)]
    for name, check in CHECKS:
        if facts.card_id is None and name != "card_known":
            checks.append(Check(name, RuleVerdict.not_set))
            continue
        verdict, reason, detail = check(facts, now)
        checks.append(Check(name, verdict, reason, detail))
    return checks


def depends_on_the_moment(facts: AuthorizationFacts) -> bool:
    """Rules whose answer can change without any write (time of day) or with every session
    (concurrency, quotas): an accepted answer under them is not to be cached."""
    return any(
        value is not None
        for value in (
            facts.rule_allowed_weekdays,
            facts.rule_allowed_from_minute,
            facts.rule_max_concurrent_sessions,
            facts.rule_quota_period,
        )
    )


def cache_limit(facts: AuthorizationFacts, now: datetime, until: datetime) -> datetime:
    if depends_on_the_moment(facts):
        return now
    for end in (facts.card_valid_until, facts.rule_group_valid_until, first_use_end(facts)):
        if end is not None and end > now:
            until = min(until, end)
    if facts.card_valid_until is None and facts.rule_card_validity_hours and facts.card_expires_at is None:
        until = min(until, now + timedelta(hours=facts.rule_card_validity_hours))
    return until


def remaining(facts: AuthorizationFacts) -> dict[str, object] | None:
    """What the quotas leave in the current period (an accepted answer says it), or None."""
    if facts.rule_quota_period is None:
        return None
    left: dict[str, object] = {"period": facts.rule_quota_period}
    pairs = (
        ("card_energy_kwh", facts.rule_card_energy_kwh, facts.card_period_kwh),
        ("card_sessions", facts.rule_card_sessions, facts.card_period_sessions),
        ("group_energy_kwh", facts.rule_group_energy_kwh, facts.group_period_kwh),
        ("group_sessions", facts.rule_group_sessions, facts.group_period_sessions),
    )
    for name, limit, used in pairs:
        left[name] = None if limit is None else max(limit - (used or 0), 0)
    return left
