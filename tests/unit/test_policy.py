"""The user-group rules of app/services/policy.py, on groups built in memory (no database)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.enums import (
    ActivationScope,
    AuthorizationReason,
    AuthorizationStatus,
    UserGroupStatus,
    UserGroupType,
)
from app.errors import (
    AppError,
    Conflict,
    GroupAlreadyArchived,
    GroupArchived,
    GroupHasSessions,
    GroupNotArchived,
)
from app.models import UserGroup
from app.schemas.user_groups import AllowedActions
from app.services import policy


def group(status: UserGroupStatus = UserGroupStatus.active) -> UserGroup:
    return UserGroup(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        name="Guests",
        name_key="guests",
        type=UserGroupType.cards_only,
        status=status,
        archived_at=datetime.now(UTC) if status == UserGroupStatus.archived else None,
        activation_scope=ActivationScope.custom,
    )


ACTIVE = UserGroupStatus.active
ARCHIVED = UserGroupStatus.archived


def test_allowed_verdict_has_no_reason_and_enforces_nothing() -> None:
    verdict = policy.can_rename(group())
    assert verdict == policy.Verdict(True)
    assert verdict.reason is None and verdict.error is None
    verdict.enforce()


@pytest.mark.parametrize("status", [ACTIVE, ARCHIVED])
def test_rename_is_always_allowed(status: UserGroupStatus) -> None:
    assert policy.can_rename(group(status)).allowed is True


@pytest.mark.parametrize("status", [ACTIVE, ARCHIVED])
def test_delete_without_sessions_is_allowed(status: UserGroupStatus) -> None:
    verdict = policy.can_delete(group(status), has_sessions=False)
    assert verdict.allowed is True
    verdict.enforce()


@pytest.mark.parametrize("status", [ACTIVE, ARCHIVED])
def test_delete_with_sessions_says_archive_instead(status: UserGroupStatus) -> None:
    verdict = policy.can_delete(group(status), has_sessions=True)
    assert verdict.allowed is False
    assert verdict.error is GroupHasSessions
    assert verdict.reason is not None and "archive it instead" in verdict.reason
    with pytest.raises(GroupHasSessions) as raised:
        verdict.enforce()
    assert raised.value.detail == verdict.reason
    assert raised.value.status == 409
    assert raised.value.type_uri().endswith("/group-has-sessions")


def test_archive_an_active_group() -> None:
    assert policy.can_archive(group(ACTIVE)).allowed is True


def test_archive_twice_is_refused() -> None:
    verdict = policy.can_archive(group(ARCHIVED))
    assert (verdict.allowed, verdict.error) == (False, GroupAlreadyArchived)
    assert verdict.reason == "The user group is already archived."
    with pytest.raises(GroupAlreadyArchived):
        verdict.enforce()


def test_restore_an_archived_group() -> None:
    assert policy.can_restore(group(ARCHIVED)).allowed is True


def test_restore_an_active_group_is_refused() -> None:
    verdict = policy.can_restore(group(ACTIVE))
    assert (verdict.allowed, verdict.error) == (False, GroupNotArchived)
    assert verdict.reason is not None and "archived" in verdict.reason
    with pytest.raises(GroupNotArchived):
        verdict.enforce()


GUARDED: list[tuple[Callable[[UserGroup], policy.Verdict], str]] = [
    (policy.can_change_tariff, "tariff"),
    (policy.can_change_activation, "charging groups"),
    (policy.can_add_cards, "cards"),
]


@pytest.mark.parametrize(("rule", "subject"), GUARDED)
def test_active_group_may_change(rule: Callable[[UserGroup], policy.Verdict], subject: str) -> None:
    verdict = rule(group(ACTIVE))
    assert verdict.allowed is True and verdict.reason is None


@pytest.mark.parametrize(("rule", "subject"), GUARDED)
def test_archived_group_may_not_change(rule: Callable[[UserGroup], policy.Verdict], subject: str) -> None:
    verdict = rule(group(ARCHIVED))
    assert verdict.allowed is False
    assert verdict.error is GroupArchived
    assert verdict.reason is not None
    assert "archived" in verdict.reason and subject in verdict.reason
    with pytest.raises(GroupArchived) as raised:
        verdict.enforce()
    assert raised.value.detail == verdict.reason
    assert isinstance(raised.value, Conflict) and raised.value.status == 409


def test_allowed_actions_names_every_action_of_the_group_page() -> None:
    actions = policy.allowed_actions(group(), has_sessions=False)
    assert set(actions) == set(AllowedActions.model_fields)


def test_allowed_actions_of_an_active_group() -> None:
    actions = policy.allowed_actions(group(ACTIVE), has_sessions=False)
    assert {name for name, verdict in actions.items() if not verdict.allowed} == {"restore"}


def test_allowed_actions_of_an_active_group_with_sessions() -> None:
    actions = policy.allowed_actions(group(ACTIVE), has_sessions=True)
    assert {name for name, verdict in actions.items() if not verdict.allowed} == {"restore", "delete"}
    assert actions["delete"].error is GroupHasSessions


def test_allowed_actions_of_an_archived_group() -> None:
    actions = policy.allowed_actions(group(ARCHIVED), has_sessions=True)
    refused = {name for name, verdict in actions.items() if not verdict.allowed}
    assert refused == {"archive", "change_tariff", "change_activation", "add_cards", "delete"}
    assert actions["restore"].allowed is True and actions["rename"].allowed is True


@pytest.mark.parametrize("status", [ACTIVE, ARCHIVED])
@pytest.mark.parametrize("has_sessions", [False, True])
def test_every_refusal_has_a_reason_and_an_error(status: UserGroupStatus, has_sessions: bool) -> None:
    for name, verdict in policy.allowed_actions(group(status), has_sessions).items():
        if verdict.allowed:
            assert verdict.reason is None and verdict.error is None, name
        else:
            assert verdict.reason, name
            assert verdict.error is not None and issubclass(verdict.error, AppError), name
            with pytest.raises(verdict.error):
                verdict.enforce()


def test_page_verdicts_match_the_rules_the_endpoints_enforce() -> None:
    archived = group(ARCHIVED)
    actions = policy.allowed_actions(archived, has_sessions=True)
    assert actions["change_tariff"] == policy.can_change_tariff(archived)
    assert actions["change_activation"] == policy.can_change_activation(archived)
    assert actions["add_cards"] == policy.can_add_cards(archived)
    assert actions["archive"] == policy.can_archive(archived)
    assert actions["delete"] == policy.can_delete(archived, True)


def test_rules_read_the_group_and_do_not_change_it() -> None:
    archived = group(ARCHIVED)
    before = (archived.status, archived.archived_at, archived.name)
    policy.allowed_actions(archived, has_sessions=True)
    assert (archived.status, archived.archived_at, archived.name) == before


# The authorization decision -------------------------------------------------------------------

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def facts(access_control: bool, **card: object) -> policy.AuthorizationFacts:
    fields: dict[str, object] = {
        "connector_id": uuid.uuid4(),
        "charging_group_id": uuid.uuid4(),
        "access_control": access_control,
        "card_id": uuid.uuid4(),
        "card_blocked": False,
        "card_valid_from": None,
        "card_valid_until": None,
        "user_group_id": uuid.uuid4(),
        "user_group_status": UserGroupStatus.active,
        "user_group_scope": ActivationScope.custom,
        "active_on_charging_group": False,
        **card,
    }
    return policy.AuthorizationFacts(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "card",
    [
        {},
        {"active_on_charging_group": True},
        {"card_blocked": True},
        {"card_valid_until": NOW},
        {"user_group_status": UserGroupStatus.archived},
        {"card_id": None, "card_blocked": None, "user_group_id": None, "user_group_status": None},
    ],
)
def test_free_charging_is_no_groups_offer(card: dict[str, object]) -> None:
    given = facts(False, **card)
    decision = policy.decide(given, NOW, 300)
    assert (decision.status, decision.reason, decision.ocpp16_status) == (
        "Accepted",
        "free_charging",
        "Accepted",
    )
    assert decision.user_group_id is None
    assert decision.card_id == given.card_id


def test_with_access_control_the_card_decides_and_names_its_group() -> None:
    given = facts(True, active_on_charging_group=True)
    decision = policy.decide(given, NOW, 300)
    assert (decision.status, decision.reason) == ("Accepted", "accepted")
    assert (decision.user_group_id, decision.card_id) == (given.user_group_id, given.card_id)


# The README's tables of the decision are the code's ----------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table(first_header: str) -> list[list[str]]:
    """The rows of the README table whose header starts with `first_header`, cells unquoted."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_readme_lists_every_reason_with_its_statuses() -> None:
    documented = {row[0]: (row[1], row[2]) for row in readme_table("reason")}
    assert documented == {
        reason.value: (status.value, policy.OCPP16_STATUS[status].value)
        for reason, status in policy.REASON_STATUS.items()
    }
    assert set(policy.REASON_STATUS) == set(AuthorizationReason)


def test_readme_maps_every_ocpp201_status_to_ocpp16() -> None:
    documented = {row[0]: row[1] for row in readme_table("OCPP 2.0.1")}
    assert documented == {status.value: policy.OCPP16_STATUS[status].value for status in AuthorizationStatus}
