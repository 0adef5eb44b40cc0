"""Every rule about what may happen to a user group, in one place.

Pure functions over facts the caller gathered inside its transaction (the group row, locked, and
whether it has sessions): no session, no I/O. Services call the `assert_*` functions right before
the write they guard; the group page shows `allowed_actions()` so the dashboard can grey out what
would be refused, with the same reasons.
"""

from dataclasses import dataclass

from app.enums import UserGroupStatus
from app.errors import (
    AppError,
    GroupAlreadyArchived,
    GroupArchived,
    GroupHasSessions,
    GroupNotArchived,
)
from app.models import UserGroup


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
