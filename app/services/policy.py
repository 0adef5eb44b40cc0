"""Every rule about what may happen to a user group, in one place.

Pure functions over facts the caller gathered inside its transaction (the group row, locked, and
whether it has sessions): no session, no I/O. Services call the `assert_*` functions right before
the write they guard; the group page shows `allowed_actions()` so the dashboard can grey out what
would be refused, with the same reasons.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.enums import (
    AuthorizationReason,
    AuthorizationStatus,
    Ocpp16AuthorizationStatus,
    UserGroupStatus,
)
from app.errors import (
    AppError,
    GroupAlreadyArchived,
    GroupArchived,
    GroupHasSessions,
    GroupNotArchived,
)
from app.models import UserGroup
from app.repositories.authorization import AuthorizationFacts as AuthorizationFacts  # the decision's input
from app.services import guest_rules


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str | None = None
    error: type[AppError] | None = None

    def enforce(self) -> None:
        if not self.allowed:
            assert self.error is not None
            raise self.error(self.reason)


ALLOWED = Verdict(True)

ARCHIVED_REASON = "The user group is archived; restore it to change its {}."


def _is_archived(group: UserGroup) -> bool:
    return group.status == UserGroupStatus.archived


def can_rename(group: UserGroup) -> Verdict:
    """Renaming stays possible at any time, archived or not."""
    return ALLOWED


def can_delete(group: UserGroup, has_sessions: bool) -> Verdict:
    if has_sessions:
        return Verdict(
            False,
            "At least one charging session ran through this user group, so it cannot be deleted; "
            "archive it instead.",
            GroupHasSessions,
        )
    return ALLOWED


def can_archive(group: UserGroup) -> Verdict:
    if _is_archived(group):
        return Verdict(False, "The user group is already archived.", GroupAlreadyArchived)
    return ALLOWED


def can_restore(group: UserGroup) -> Verdict:
    if not _is_archived(group):
        return Verdict(False, "Only an archived user group can be restored.", GroupNotArchived)
    return ALLOWED


def can_change_tariff(group: UserGroup) -> Verdict:
    if _is_archived(group):
        return Verdict(False, ARCHIVED_REASON.format("tariff"), GroupArchived)
    return ALLOWED


def can_change_activation(group: UserGroup) -> Verdict:
    if _is_archived(group):
        return Verdict(False, ARCHIVED_REASON.format("charging groups"), GroupArchived)
    return ALLOWED


def can_change_rules(group: UserGroup) -> Verdict:
    if _is_archived(group):
        return Verdict(False, ARCHIVED_REASON.format("rules"), GroupArchived)
    return ALLOWED


def can_add_cards(group: UserGroup) -> Verdict:
    if _is_archived(group):
        return Verdict(
            False, "The user group is archived; cards cannot be added or moved into it.", GroupArchived
        )
    return ALLOWED


def allowed_actions(group: UserGroup, has_sessions: bool) -> dict[str, Verdict]:
    return {
        "rename": can_rename(group),
        "delete": can_delete(group, has_sessions),
        "archive": can_archive(group),
        "restore": can_restore(group),
        "change_tariff": can_change_tariff(group),
        "change_activation": can_change_activation(group),
        "add_cards": can_add_cards(group),
    }


# The authorization decision (SPEC section 5) ---------------------------------------------------

# OCPP 1.6 knows fewer statuses: the nearest one for each (README, "Authorization decision").
OCPP16_STATUS: dict[AuthorizationStatus, Ocpp16AuthorizationStatus] = {
    AuthorizationStatus.accepted: Ocpp16AuthorizationStatus.accepted,
    AuthorizationStatus.blocked: Ocpp16AuthorizationStatus.blocked,
    AuthorizationStatus.expired: Ocpp16AuthorizationStatus.expired,
    AuthorizationStatus.invalid: Ocpp16AuthorizationStatus.invalid,
    AuthorizationStatus.unknown: Ocpp16AuthorizationStatus.invalid,
    AuthorizationStatus.not_at_this_location: Ocpp16AuthorizationStatus.invalid,
    AuthorizationStatus.not_at_this_time: Ocpp16AuthorizationStatus.invalid,
    AuthorizationStatus.not_allowed_type_evse: Ocpp16AuthorizationStatus.invalid,
    AuthorizationStatus.concurrent_tx: Ocpp16AuthorizationStatus.concurrent_tx,
    AuthorizationStatus.no_credit: Ocpp16AuthorizationStatus.invalid,
}

# Each reason answers with one OCPP 2.0.1 status (SPEC section 5).
REASON_STATUS: dict[AuthorizationReason, AuthorizationStatus] = {
    AuthorizationReason.accepted: AuthorizationStatus.accepted,
    AuthorizationReason.free_charging: AuthorizationStatus.accepted,
    AuthorizationReason.unknown_card: AuthorizationStatus.invalid,
    AuthorizationReason.card_blocked: AuthorizationStatus.blocked,
    AuthorizationReason.card_not_yet_valid: AuthorizationStatus.expired,
    AuthorizationReason.card_expired: AuthorizationStatus.expired,
    AuthorizationReason.group_archived: AuthorizationStatus.invalid,
    AuthorizationReason.not_at_this_location: AuthorizationStatus.not_at_this_location,
    # An unknown UID added by a learning mode (app/services/unknown_cards.py), then accepted.
    AuthorizationReason.card_learned: AuthorizationStatus.accepted,
    AuthorizationReason.group_not_yet_valid: AuthorizationStatus.expired,
    AuthorizationReason.group_expired: AuthorizationStatus.expired,
    AuthorizationReason.card_expired_after_first_use: AuthorizationStatus.expired,
    AuthorizationReason.not_at_this_time: AuthorizationStatus.not_at_this_time,
    AuthorizationReason.connector_not_allowed: AuthorizationStatus.not_allowed_type_evse,
    AuthorizationReason.concurrent_sessions: AuthorizationStatus.concurrent_tx,
    AuthorizationReason.card_quota_used_up: AuthorizationStatus.no_credit,
    AuthorizationReason.group_quota_used_up: AuthorizationStatus.no_credit,
}


@dataclass(frozen=True)
class Decision:
    status: AuthorizationStatus
    reason: AuthorizationReason
    user_group_id: uuid.UUID | None
    card_id: uuid.UUID | None
    cache_expires_at: datetime
    remaining: dict[str, object] | None = None  # what the quotas leave (accepted answers only)
    # The check that refused, `access_control` for free charging, None when all passed.
    decided_by: str | None = None
    checks: tuple[guest_rules.Check, ...] = ()  # every check with its verdict (explain only)

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.accepted

    @property
    def ocpp16_status(self) -> Ocpp16AuthorizationStatus:
        return OCPP16_STATUS[self.status]


def card_refusal(
    blocked: bool, valid_from: datetime | None, valid_until: datetime | None, now: datetime
) -> AuthorizationReason | None:
    """The card's own refusal at `now`, if any: blocked, then outside its validity. The OCPP local
    lists (app/services/local_lists.py) read a card's status here; the decision's checks
    (app/services/guest_rules.py) give the same answer for these rules."""
    if blocked:
        return AuthorizationReason.card_blocked
    if valid_from is not None and now < valid_from:
        return AuthorizationReason.card_not_yet_valid
    if valid_until is not None and now >= valid_until:
        return AuthorizationReason.card_expired
    return None


def decide(
    facts: AuthorizationFacts, now: datetime, cache_seconds: int, *, explain: bool = False
) -> Decision:
    """The decision table, in its order (README; app/services/guest_rules.py::CHECKS): free
    charging, then the first check that fails, else accepted. `explain` adds every check with
    its verdict (POST /v1/authorize/explain); the decision is the same either way."""
    cache_until = now + timedelta(seconds=cache_seconds)
    checks = tuple(guest_rules.evaluate(facts, now)) if explain else ()
    if not facts.access_control:
        # Anyone charges here: no user group's offer is used, so no group and no tariff, even when
        # the card happens to belong to one (the card is still named, for the record).
        free = AuthorizationReason.free_charging
        return Decision(
            REASON_STATUS[free], free, None, facts.card_id, cache_until, None, "access_control", checks
        )
    failed = guest_rules.first_failure_of(facts, now)
    if failed is not None:
        rule, (_, reason, _) = failed
        assert reason is not None
        until = cache_until
        if reason == AuthorizationReason.card_not_yet_valid and facts.card_valid_from is not None:
            until = min(cache_until, facts.card_valid_from)
        elif reason == AuthorizationReason.group_not_yet_valid and facts.rule_group_valid_from:
            until = min(cache_until, facts.rule_group_valid_from)
        status = REASON_STATUS[reason]
        return Decision(status, reason, facts.user_group_id, facts.card_id, until, None, rule, checks)
    accepted = AuthorizationReason.accepted
    return Decision(
        REASON_STATUS[accepted],
        accepted,
        facts.user_group_id,
        facts.card_id,
        guest_rules.cache_limit(facts, now, cache_until),
        guest_rules.remaining(facts),
        None,
        checks,
    )
