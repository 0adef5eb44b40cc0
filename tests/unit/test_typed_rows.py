"""The rows read on the driver are typed: each NamedTuple's fields are the names its statements
select, in the same order, so a column inserted in one place cannot shift the values read in
another (the hot path; the group page, list and history)."""

import uuid

import pytest
from sqlalchemy import Select

from app.repositories import authorization as repository
from app.repositories import user_group_pages
from app.repositories.audit_events import AUDIT_ROW_COLUMNS, AuditRow
from app.repositories.authorization import AuthorizationFacts, KeyRow


def selected_names(statement: Select[tuple[object, ...]]) -> list[str]:
    return [column.name for column in statement.selected_columns]


@pytest.mark.parametrize("form", ["connector_id", "evse_id", "charge_point"])
def test_hot_path_statement_selects_the_key_then_the_facts(form: str) -> None:
    statement = repository.HOT_PATH[form]
    assert selected_names(statement) == [*KeyRow._fields, *AuthorizationFacts._fields]


def test_key_only_statement_selects_the_key() -> None:
    assert selected_names(repository.HOT_PATH["key_only"]) == list(KeyRow._fields)


def test_transaction_statement_selects_the_facts() -> None:
    ref = repository.ConnectorRef(evse_id="DE*ABC*E1")
    statement = repository.authorization_facts_statement(uuid.uuid4(), "04112233", ref)
    assert selected_names(statement) == list(AuthorizationFacts._fields)


def test_hot_path_rows_split_by_name() -> None:
    key = KeyRow(uuid.uuid4(), uuid.uuid4(), "backend", "hash", None, "ci")  # type: ignore[arg-type]
    rule_facts = [None] * (len(AuthorizationFacts._fields) - 15)
    facts = [uuid.uuid4(), uuid.uuid4(), True, *[None] * 7, 1, None, "Depot", None, None, *rule_facts]
    found_key, found_facts = repository.hot_path_rows((*key, *facts))
    assert found_key == key
    assert found_facts is not None
    assert found_facts.charging_group_name == "Depot"
    assert found_facts.active_on_charging_group is True
    # The connector columns are NULL: the connector is not in the key's organization.
    assert repository.hot_path_rows((*key, *[None] * len(AuthorizationFacts._fields))) == (key, None)
    assert repository.hot_path_rows(tuple(key)) == (key, None)


def test_page_statements_select_their_rows() -> None:
    group, tariff = user_group_pages.GroupRow._fields, user_group_pages.TariffRow._fields
    assert selected_names(user_group_pages.STATEMENT) == list(group)
    assert selected_names(user_group_pages.PAGE) == [*group, *(f"upcoming_{name}" for name in tariff)]
    assert [column.name for column in AUDIT_ROW_COLUMNS] == list(AuditRow._fields)
