"""The audit trail: one record per change, added to the caller's session (never committed here).

What a record says changed is read from the mapped rows, not from lists of field names:

* every flush notes, for each audited object (a model with the `Audited` mixin), the columns that
  changed (SQLAlchemy's attribute history): a created object, an updated one with its old and new
  values, a deleted one with its whole row;
* `record` turns its entity's notes into the record's old/new: the changed columns of an update,
  the whole row of a creation (`new`) or of a deletion (`old`), beside the context the service
  adds (names, counts) under keys of its own;
* a commit that still holds a noted change no record took up fails (`UnauditedChange`), so the
  transaction rolls back: a service cannot change an audited row and forget its record.

Every mapped column is audited except the ones its model declares in `__audit_internal__`. A bulk
statement on an audited table must say that its caller records the change (`AUDITED_BULK`).
The listeners are registered on SQLAlchemy's Session class when this module is imported; the
services import it, so every session that reaches a service is checked.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from app.enums import AuditAction
from app.models import AuditEvent
from app.models.base import AUDITED_BULK, Audited, utcnow
from app.services import events
from app.services.context import RequestContext

_NOTES = "audit.notes"
_PLAIN = frozenset({str, bool, int, float})


class UnauditedChange(RuntimeError):
    """A programming error: an audited row changed and no audit record says so."""


def json_value(value: Any) -> Any:
    if value is None or type(value) in _PLAIN:
        return value  # the common case first: a bulk record converts tens of thousands of values
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        # The same text on every database (PostgreSQL returns NUMERIC with its full scale).
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


_COLUMNS: dict[type[Audited], tuple[str, ...]] = {}


def audited_columns(model: type[Audited]) -> tuple[str, ...]:
    """Every mapped column attribute of the model but its declared internal ones."""
    columns = _COLUMNS.get(model)
    if columns is None:
        internal = model.__audit_internal__
        columns = tuple(a.key for a in inspect(model).column_attrs if a.key not in internal)
        _COLUMNS[model] = columns
    return columns


def row_values(entity: Audited) -> dict[str, Any]:
    """The audited columns of an object as they are now, as JSON."""
    return {key: json_value(getattr(entity, key)) for key in audited_columns(type(entity))}


def rows_values(model: type[Audited], rows: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """The audited columns of rows written by a bulk statement (read back with RETURNING)."""
    columns = audited_columns(model)
    return [{key: json_value(mapping[key]) for key in columns} for mapping in rows]


@dataclass
class _Note:
    kind: Literal["created", "updated", "deleted"]
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False

    def changed(self) -> list[str]:
        return [key for key in self.new if self.old.get(key) != self.new[key]]

    def pending(self) -> bool:
        return not self.recorded and (self.kind != "updated" or bool(self.changed()))


def _notes(session: Session) -> dict[Audited, _Note]:
    notes: dict[Audited, _Note] = session.info.setdefault(_NOTES, {})
    return notes


def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    notes = _notes(session)
    for entity in session.new:
        if isinstance(entity, Audited) and entity not in notes:
            notes[entity] = _Note("created")  # the record reads the whole row once it is written
    for entity in session.dirty:
        if isinstance(entity, Audited):
            _note_update(notes, entity)
    for entity in session.deleted:
        if isinstance(entity, Audited):
            _note_delete(notes, entity)


def _note_update(notes: dict[Audited, _Note], entity: Audited) -> None:
    note = notes.get(entity)
    if note is not None and note.kind == "created" and not note.recorded:
        return
    if note is None or note.recorded:
        note = _Note("updated")
    attributes = inspect(entity).attrs
    for key in audited_columns(type(entity)):
        history = attributes[key].history
        if history.has_changes():
            note.old.setdefault(key, json_value(history.deleted[0]) if history.deleted else None)
            note.new[key] = json_value(history.added[0]) if history.added else None
    if note.new:
        notes[entity] = note


def _note_delete(notes: dict[Audited, _Note], entity: Audited) -> None:
    earlier = notes.get(entity)
    if earlier is not None and earlier.kind == "created" and not earlier.recorded:
        del notes[entity]  # written and removed in one transaction: nothing happened outside it
        return
    attributes = inspect(entity).attrs
    old = {}
    for key in audited_columns(type(entity)):
        history = attributes[key].history
        old[key] = json_value(history.deleted[0] if history.deleted else getattr(entity, key))
    if earlier is not None and earlier.kind == "updated" and not earlier.recorded:
        old.update(earlier.old)  # the row as the transaction found it
    notes[entity] = _Note("deleted", old=old)


def _before_commit(session: Session) -> None:
    session.flush()  # so that the last changes are noted too
    pending = [(entity, note) for entity, note in _notes(session).items() if note.pending()]
    if pending:
        described = "; ".join(
            f"{type(entity).__name__} {inspect(entity).identity} {note.kind}"
            + (f" ({', '.join(note.changed())})" if note.kind == "updated" else "")
            for entity, note in pending
        )
        raise UnauditedChange(f"changes without an audit record: {described}")


def _forget(session: Session) -> None:
    session.info.pop(_NOTES, None)


def _guard_bulk(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if state.execution_options.get(AUDITED_BULK):
        return
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, Audited):
            raise UnauditedChange(
                f"a bulk statement on {mapper.class_.__name__} without {AUDITED_BULK}: "
                "record the change and mark the statement, or change the objects through the session"
            )


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_commit", _forget)
event.listen(Session, "after_rollback", _forget)
event.listen(Session, "do_orm_execute", _guard_bulk)


def _take(session: Session, entity: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entity's noted change as old/new; a second record of the same change sees it again."""
    note = _notes(session).get(entity)
    if note is None:
        return {}, {}
    note.recorded = True
    if note.kind == "created":
        return {}, row_values(entity)
    if note.kind == "deleted":
        return dict(note.old), {}
    keys = note.changed()
    return {key: note.old.get(key) for key in keys}, {key: note.new[key] for key in keys}


def _build(
    session: Session,
    ctx: RequestContext,
    action: AuditAction,
    entity: Audited,
    user_group_id: uuid.UUID | None,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    covers: Mapping[str, Audited],
    only_if_changed: bool,
) -> tuple[AuditEvent, dict[str, Any] | None] | None:
    note = _notes(session).get(entity)
    if only_if_changed and (note is None or not note.pending()):
        return None
    changed_old, changed_new = _take(session, entity)
    old_values = {**json_value(old or {}), **changed_old}
    new_values = {**json_value(new or {}), **changed_new}
    for key, other in covers.items():
        other_old, other_new = _take(session, other)
        identity = {"id": json_value(inspect(other).identity[0])}
        if other_old:
            old_values[key] = {**identity, **other_old}
        if other_new:
            new_values[key] = {**identity, **other_new}
    audit_event = AuditEvent(
        id=uuid.uuid4(),  # set now, not at flush: the change feed's event refers to it
        created_at=utcnow(),
        organization_id=ctx.organization_id,
        actor_api_key_id=ctx.api_key_id,
        actor_name=ctx.actor_name,
        action=action.value,
        entity_type=type(entity).__audit_entity__.value,
        entity_id=inspect(entity).identity[0],
        user_group_id=user_group_id,
        old_values=old_values or None,
        new_values=new_values or None,
        request_id=ctx.request_id,
    )
    session.add(audit_event)
    gone = inspect(entity).was_deleted or inspect(entity).deleted
    # The resource as it is now, for the change feed: its id, then every audited column.
    state = None if gone else {"id": json_value(inspect(entity).identity[0]), **row_values(entity)}
    return audit_event, state


async def record(
    session: AsyncSession,
    ctx: RequestContext,
    action: AuditAction,
    entity: Audited,
    *,
    user_group_id: uuid.UUID | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    covers: Mapping[str, Audited] | None = None,
    only_if_changed: bool = False,
) -> AuditEvent | None:
    """Adds the record of `action` on `entity`: what changed in its row (read from the row, see
    the module docstring) beside the context given in `old`/`new`; a changed column wins over a
    context key of the same name. `covers` are other rows changed by the same action (a group's
    first tariff, the tariff version a new one replaces): their change is shown under the key.
    With `only_if_changed`, a change that changed nothing records nothing (returns None).
    The record is also the change feed's event (app/services/events.py), in the same transaction."""
    await session.flush()
    built = await session.run_sync(
        _build, ctx, action, entity, user_group_id, old, new, covers or {}, only_if_changed
    )
    if built is None:
        return None
    audit_event, state = built
    await events.publish(session, audit_event, state)
    return audit_event
