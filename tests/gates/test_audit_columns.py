"""Gate: audited by construction. Every mapped column of every audited model, read from the
mapper registry (a column added later is in here without editing this file), shows in the history
when it changes, and a change without its record cannot be committed.

For each column the test loads a real row of the organization built through the API, changes
the column to another valid value of its type through the service layer's unit of work, and
checks two things: committing without an audit record fails and leaves the row as it was; with
`audit.record` the history (read over HTTP) shows exactly that column, old -> new. A column whose
type admits one value only cannot change; it must then be in the row's creation record, which is
checked for every column of every model too. Internal columns (`__audit_internal__`) are left out
by design; the model says why.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, ForeignKey, TypeDecorator, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.enums import AuditAction
from app.models import (
    Activation,
    AuditEvent,
    Base,
    Card,
    ChangeEvent,
    ChargingSession,
    IdempotencyRecord,
    LearningMode,
    LocalListClock,
    LocalListHead,
    LocalListMembership,
    LocalListRemoval,
    Organization,
    UnknownCard,
    UserGroupTally,
    WebhookDelivery,
)
from app.models.base import Audited
from app.schemas.cards import CardUpdate
from app.services import api_keys, audit
from tests.factories import (
    Org,
    add_card,
    all_items,
    create_charge_point,
    create_charging_group,
    create_connector,
    create_user_group,
    ok,
)

NOT_AUDITED: dict[type[Any], str] = {
    Organization: "created by the operator at the console; its counters follow infrastructure writes",
    Activation: "a link row; its changes are the user group's activation.* records",
    AuditEvent: "the trail itself",
    IdempotencyRecord: "a stored response, not business data",
    ChangeEvent: "the change feed: written with the audit record it refers to",
    WebhookDelivery: "the worker's queue and log; a redelivery asked for is the endpoint's record",
    LocalListHead: "derived from audited changes, in their transaction (app/services/local_lists.py)",
    LocalListClock: "derived from audited changes, in their transaction (app/services/local_lists.py)",
    LocalListRemoval: "derived from audited changes, in their transaction (app/services/local_lists.py)",
    LocalListMembership: "derived from audited changes, in their transaction (app/services/local_lists.py)",
    UnknownCard: "an observation of refused UIDs, written after the answer; adding one is card.added",
    LearningMode: "a link row; its changes are the user group's learning_mode.* records",
    UserGroupTally: "counts of audited rows, kept by the database in their statement (migration 0014)",
}
AUDITED: list[type[Audited]] = sorted(
    (mapper.class_ for mapper in Base.registry.mappers if issubclass(mapper.class_, Audited)),
    key=lambda model: model.__name__,
)
COLUMNS = [(model, key) for model in AUDITED for key in audit.audited_columns(model)]


class NoOtherValue(Exception):
    """The column's type admits only the value it has."""


def test_every_model_is_audited_or_says_why_not() -> None:
    models = {mapper.class_ for mapper in Base.registry.mappers}
    assert {model for model in models if not issubclass(model, Audited)} == set(NOT_AUDITED)
    assert len(AUDITED) >= 8 and len(COLUMNS) > 40, "the registry looks empty"


def test_declared_internal_columns_exist() -> None:
    """A model's own internal column that is not a column (any more) is a stale declaration."""
    for model in AUDITED:
        keys = {attribute.key for attribute in inspect(model).column_attrs}
        assert model.__audit_internal__ - Audited.__audit_internal__ <= keys, model


# Fresh rows a foreign key can point to without breaking a unique rule of the row that points.
TARGETS: dict[str, Callable[[TestClient, Org, dict[str, str]], str]] = {
    "user_groups": lambda c, o, w: create_user_group(c, o)["id"],
    "charging_groups": lambda c, o, w: create_charging_group(c, o)["id"],
    "charge_points": lambda c, o, w: create_charge_point(c, o, w["charging_group_id"], role="extender")["id"],
    "connectors": lambda c, o, w: create_connector(c, o, w["charge_point_id"], 9)["id"],
    "cards": lambda c, o, w: add_card(c, o, w["user_group_id"], uuid.uuid4().hex[:12].upper())["id"],
    "tariff_versions": lambda c, o, w: _tariff_version(c, o),
}


def _tariff_version(client: TestClient, org: Org) -> str:
    group = create_user_group(client, org, tariff={"currency": "EUR", "price_per_kwh": "0.5"})
    return ok(client.get(f"/v1/user-groups/{group['id']}/tariff", headers=org.auth()))["id"]  # type: ignore[no-any-return]


def _db(client: TestClient) -> Database:
    return client.app.state.db  # type: ignore[attr-defined,no-any-return]


async def _newest(session: AsyncSession, model: type[Audited], org: Org) -> Any:
    table = inspect(model).local_table
    statement = (
        select(model)
        .where(table.c.organization_id == org.id)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one()


def _other_value(model: type[Audited], key: str, current: Any, target: Callable[[str], str]) -> Any:
    """Another valid value for the column, chosen from its type alone (a JSON column whose value has a
    shape the model reads: from SHAPED)."""
    if (model, key) in SHAPED:
        return SHAPED[model, key]()
    column = inspect(model).local_table.c[key]
    foreign_keys: set[ForeignKey] = set(column.foreign_keys)
    if foreign_keys:
        (foreign_key,) = foreign_keys
        return uuid.UUID(target(foreign_key.column.table.name))
    column_type = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    kind = cast(type[Any], column_type.python_type)
    if issubclass(kind, Enum):
        others = [member for member in kind if member != current]
        if not others:
            raise NoOtherValue
        return others[0]
    if kind is bool:
        return not current
    if kind is int:
        return (current or 0) + 1000
    if kind is Decimal:
        return (current or Decimal(0)) + Decimal("1.5")
    if kind is datetime:
        return (current or datetime(2030, 1, 1, tzinfo=UTC)) + timedelta(days=1, seconds=7)
    if kind is str:
        length = getattr(column.type, "length", None) or 32
        return ("g" + uuid.uuid4().hex)[:length]
    if kind is dict or isinstance(column_type, JSON):
        return {"changed_by": "audit gate", "token": uuid.uuid4().hex}
    if kind is uuid.UUID:
        return uuid.uuid4()
    raise AssertionError(f"{model.__name__}.{key}: no test value for type {kind}; add one here")


# A session's tariff copy is described when it is set (ChargingSession.tariff_description).
SHAPED: dict[tuple[type[Any], str], Callable[[], Any]] = {
    (ChargingSession, "tariff_snapshot"): lambda: {
        "currency": "EUR",
        "price_per_kwh": f"0.{uuid.uuid4().int % 10**6:06d}",
    },
}


def _action_for(model: type[Audited]) -> AuditAction:
    prefix = f"{model.__audit_entity__.value}."
    return next(action for action in AuditAction if action.value.startswith(prefix))


def _creation_values(client: TestClient, org: Org, row_id: str) -> dict[str, Any]:
    """The row as its creation recorded it: its own first record, or the record that covered it.
    (A creation may show other rows it changed in `old_values`: a scheduled tariff version names
    the version it ends under `previous_version`.)"""
    for event in reversed(
        all_items(client, org, "/v1/audit-events")
    ):  # oldest first: a row's first record creates it
        if event["entity_id"] == row_id:
            return event["new_values"]  # type: ignore[no-any-return]
        for value in (event["new_values"] or {}).values():
            if isinstance(value, dict) and value.get("id") == row_id and value.keys() > {"id"}:
                return value
    raise AssertionError(f"no creation record for {row_id}")


@pytest.mark.parametrize("model", AUDITED, ids=lambda model: model.__name__)
def test_creation_record_has_every_column(
    client: TestClient, world_org: Org, world: dict[str, str], model: type[Audited]
) -> None:
    async def newest_id() -> str:
        async with UnitOfWork(_db(client)) as session:
            return str((await _newest(session, model, world_org)).id)

    assert client.portal is not None
    row_id = client.portal.call(newest_id)
    missing = set(audit.audited_columns(model)) - set(_creation_values(client, world_org, row_id))
    assert missing == set(), f"{model.__name__}: the creation record lacks {sorted(missing)}"


@pytest.mark.parametrize("model, key", COLUMNS, ids=lambda value: getattr(value, "__name__", value))
def test_change_of_column_shows_in_history(
    client: TestClient, world_org: Org, world: dict[str, str], model: type[Audited], key: str
) -> None:
    db = _db(client)
    ctx = api_keys.system_context(world_org.id, "audit gate")
    assert client.portal is not None

    async def current() -> tuple[str, Any]:
        async with UnitOfWork(db) as session:
            row = await _newest(session, model, world_org)
            return str(row.id), getattr(row, key)

    row_id, old = client.portal.call(current)
    try:
        new = _other_value(model, key, old, lambda table: TARGETS[table](client, world_org, world))
    except NoOtherValue:
        # Only one value is possible: the column cannot change, and its creation shows it.
        assert _creation_values(client, world_org, row_id)[key] == audit.json_value(old)
        return

    async def change(recorded: bool) -> None:
        async with UnitOfWork(db) as session:
            row = await session.get_one(model, uuid.UUID(row_id))
            setattr(row, key, new)
            if recorded:
                await audit.record(session, ctx, _action_for(model), row)

    with pytest.raises(audit.UnauditedChange, match=key):
        client.portal.call(change, False)
    assert client.portal.call(current) == (row_id, old), "the unaudited change was committed"

    client.portal.call(change, True)
    event = all_items(client, world_org, "/v1/audit-events", entity_id=row_id)[0]
    assert event["actor_name"] == "audit gate"
    assert (event["old_values"], event["new_values"]) == (
        {key: audit.json_value(old)},
        {key: audit.json_value(new)},
    )


def test_bulk_statement_on_an_audited_table_must_say_it_is_recorded(
    client: TestClient, world_org: Org, world: dict[str, str]
) -> None:
    async def block_all_cards() -> None:
        async with UnitOfWork(_db(client)) as session:
            statement = update(Card).where(Card.organization_id == world_org.id).values(blocked=True)
            await session.execute(statement)

    assert client.portal is not None
    with pytest.raises(audit.UnauditedChange, match="bulk statement on Card"):
        client.portal.call(block_all_cards)
    assert ok(client.get(f"/v1/cards/{world['card_id']}", headers=world_org.auth()))["blocked"] is False


def test_bulk_added_and_deleted_cards_are_listed_with_every_column(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    url = f"/v1/user-groups/{group['id']}"
    cards = [{"uid": "BULK01", "label": "One"}, {"uid": "BULK02", "printed_number": "2", "blocked": True}]
    ok(client.post(f"{url}/cards/bulk", json={"cards": cards}, headers=org.auth()), 201)
    ok(client.delete(url, headers=org.auth()), 204)
    events = {
        event["action"]: event
        for event in all_items(client, org, "/v1/audit-events", user_group_id=group["id"])
    }
    columns = set(audit.audited_columns(Card))
    added = events["cards.bulk_added"]["new_values"]["cards"]
    removed = events["user_group.deleted"]["old_values"]["cards"]
    for listed in (added, sorted(removed, key=lambda card: card["uid"])):
        assert [card["uid"] for card in listed] == ["BULK01", "BULK02"]
        assert all(set(card) == columns for card in listed), listed
        assert (listed[0]["label"], listed[1]["printed_number"], listed[1]["blocked"]) == ("One", "2", True)


@pytest.mark.parametrize("field", sorted(CardUpdate.model_fields))
def test_every_card_field_changed_through_the_api_shows_in_the_history(
    client: TestClient, org: Org, field: str
) -> None:
    """The issue's case end to end: each field a PATCH accepts (read from the schema) is recorded."""
    group = create_user_group(client, org)
    card = add_card(client, org, group["id"], uuid.uuid4().hex[:12].upper())
    schema = CardUpdate.model_json_schema()["properties"][field]
    kinds = {option.get("type"): option for option in schema.get("anyOf", [schema])}
    if "boolean" in kinds:
        value: Any = not card[field]
    elif kinds.get("string", {}).get("format") == "date-time":
        value = "2031-05-06T07:08:09Z"
    else:
        value = f"V{uuid.uuid4().hex[:8]}"
    ok(client.patch(f"/v1/cards/{card['id']}", json={field: value}, headers=org.auth()))
    (event,) = [
        e
        for e in all_items(client, org, "/v1/audit-events", entity_id=card["id"])
        if e["action"] == "card.updated"
    ]
    assert field in event["old_values"] and field in event["new_values"], event
    assert event["old_values"][field] == card[field]
    new = event["new_values"][field]
    if isinstance(value, str) and "date-time" in str(schema):
        new, value = datetime.fromisoformat(new), datetime.fromisoformat(value)
    assert new == value
