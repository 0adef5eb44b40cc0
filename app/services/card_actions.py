"""Bulk card actions: block, unblock, set or clear validity, move, remove, for up to 10,000 cards
of one user group named by id or by a filter. All or nothing: every card that cannot take the
action is listed and none is changed. One audit record lists the cards (a move: one in each
group's history, as a single card's move)."""

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, CardAction
from app.errors import CardActionRefused, InvalidInput
from app.models import Card, UserGroup
from app.repositories.card_actions import CardActionRepository
from app.schemas.card_actions import MAX_CARDS_PER_ACTION, CardActionRequest
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import lock_group

ACTIONS = {
    CardAction.block: AuditAction.cards_bulk_blocked,
    CardAction.unblock: AuditAction.cards_bulk_unblocked,
    CardAction.set_validity: AuditAction.cards_bulk_validity_set,
    CardAction.clear_validity: AuditAction.cards_bulk_validity_cleared,
    CardAction.remove: AuditAction.cards_bulk_removed,
}


def _refusal(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        message, errors=[{"field": field, "loc": ["body", field], "msg": message, "type": "value_error"}]
    )


def check_request(data: CardActionRequest) -> None:
    """What the request's fields must say together, each refusal naming its field."""
    if (data.card_ids is None) == (data.filter is None):
        raise _refusal("card_ids", "give either card_ids or filter, not both and not neither")
    validity = data.valid_from is not None or data.valid_until is not None
    if data.action == CardAction.set_validity and not validity:
        raise _refusal("valid_until", "set_validity needs valid_from, valid_until or both")
    if data.action != CardAction.set_validity and validity:
        field = "valid_from" if data.valid_from is not None else "valid_until"
        raise _refusal(field, "valid_from and valid_until belong to the action set_validity only")
    if (data.action == CardAction.move) != (data.target_user_group_id is not None):
        raise _refusal("target_user_group_id", "target_user_group_id is needed by move, and by move only")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        raise _refusal("valid_until", "valid_until must be after valid_from")


async def apply_card_action(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, data: CardActionRequest
) -> int:
    """Returns how many cards the action changed (or removed)."""
    check_request(data)
    target_id = data.target_user_group_id
    if target_id == user_group_id:
        raise _refusal("target_user_group_id", "the cards are already in this user group")
    # Lock the groups in id order, so two opposite moves cannot deadlock.
    locked: dict[uuid.UUID, UserGroup] = {}
    for group_id in sorted({user_group_id, *([target_id] if target_id else [])}):
        locked[group_id] = await lock_group(session, ctx, group_id)
    group = locked[user_group_id]
    target = locked[target_id] if target_id else None
    if target is not None:
        policy.can_add_cards(target).enforce()
    repository = CardActionRepository(session, ctx.organization_id)
    cards = await _cards(repository, group, data)
    _refuse_invalid_validity(cards, data)
    if not cards:
        return 0  # nothing matched: nothing changed, nothing to record
    ids = [card["id"] for card in cards]
    now = datetime.now(UTC)
    if data.action == CardAction.remove:
        removed = await repository.delete_many(ids)
        await _record(
            session, ctx, AuditAction.cards_bulk_removed, group, old=audit.rows_values(Card, removed)
        )
        await local_lists.cards_removed(
            session, ctx, [(card["uid"], card["user_group_id"]) for card in removed]
        )
        return len(removed)
    values = _new_values(data)
    written = await repository.update_many(ids, values, now)
    changed = _changes(cards, written, list(values))
    if target is None:
        await _record(session, ctx, ACTIONS[data.action], group, changes=changed)
    else:
        context = {"from_user_group": group.name, "to_user_group": target.name}
        for action, history in (
            (AuditAction.cards_bulk_moved_out, group),
            (AuditAction.cards_bulk_moved_in, target),
        ):
            await _record(session, ctx, action, history, changes=changed, context=context)
    # The OCPP local lists follow in the same transaction (their version rises with the change).
    await local_lists.cards_changed(session, ctx, [card["uid"] for card in written])
    return len(written)


async def _cards(
    repository: CardActionRepository, group: UserGroup, data: CardActionRequest
) -> list[RowMapping]:
    if data.filter is not None:
        found = await repository.matching(
            group.id,
            data.filter.q,
            data.filter.blocked,
            data.filter.valid_until_before,
            MAX_CARDS_PER_ACTION + 1,
        )
        if len(found) > MAX_CARDS_PER_ACTION:
            raise _refusal(
                "filter", f"more than {MAX_CARDS_PER_ACTION} cards match; narrow the filter or send card_ids"
            )
        return found
    ids = data.card_ids or []
    by_id = {card["id"]: card for card in await repository.by_ids(ids)}
    errors: list[dict[str, Any]] = []
    seen: Counter[uuid.UUID] = Counter()
    for index, card_id in enumerate(ids):
        seen[card_id] += 1
        card = by_id.get(card_id)
        if seen[card_id] > 1:
            errors.append(
                _card_error(index, card_id, "named more than once in this request", "duplicate_in_request")
            )
        elif card is None:
            errors.append(_card_error(index, card_id, "no such card in the organization", "not_found"))
        elif card["user_group_id"] != group.id:
            errors.append(
                _card_error(index, card_id, "the card belongs to another user group", "not_in_group")
            )
    if errors:
        raise CardActionRefused(
            f"{len(errors)} card(s) refused; no card was changed. Fix them and send the whole list again.",
            errors=errors,
        )
    return [by_id[card_id] for card_id in ids]


def _card_error(index: int, card_id: uuid.UUID, message: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "field": f"card_ids.{index}",
        "loc": ["body", "card_ids", index],
        "msg": message,
        "type": kind,
        "card_id": str(card_id),
        **extra,
    }


def _refuse_invalid_validity(cards: Sequence[RowMapping], data: CardActionRequest) -> None:
    """set_validity changes what is given and keeps the rest: a card whose kept start would be after
    its new end (or whose kept end before its new start) is refused."""
    if data.action != CardAction.set_validity:
        return
    errors: list[dict[str, Any]] = []
    positions = {card_id: index for index, card_id in enumerate(data.card_ids or [])}
    for card in cards:
        valid_from = data.valid_from if data.valid_from is not None else card["valid_from"]
        valid_until = data.valid_until if data.valid_until is not None else card["valid_until"]
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            index = positions.get(card["id"])
            location: list[str | int] = (
                ["body", "card_ids", index] if index is not None else ["body", "filter"]
            )
            errors.append(
                {
                    "field": ".".join(str(part) for part in location[1:]),
                    "loc": location,
                    "msg": "the card's validity would end before it starts",
                    "type": "validity_order",
                    "card_id": str(card["id"]),
                    "uid": card["uid"],
                }
            )
    if errors:
        raise CardActionRefused(f"{len(errors)} card(s) refused; no card was changed.", errors=errors)


def _new_values(data: CardActionRequest) -> dict[str, Any]:
    if data.action == CardAction.block:
        return {"blocked": True}
    if data.action == CardAction.unblock:
        return {"blocked": False}
    if data.action == CardAction.clear_validity:
        return {"valid_from": None, "valid_until": None}
    if data.action == CardAction.move:
        return {"user_group_id": data.target_user_group_id}
    given = {"valid_from": data.valid_from, "valid_until": data.valid_until}
    return {key: value for key, value in given.items() if value is not None}


def _changes(
    before: Sequence[RowMapping], after: Sequence[RowMapping], keys: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per card, its id and UID with the changed columns before and after."""
    old_by_id = {card["id"]: card for card in before}
    old: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for card in after:
        identity = {"id": audit.json_value(card["id"]), "uid": card["uid"]}
        previous = old_by_id[card["id"]]
        old.append({**identity, **{key: audit.json_value(previous[key]) for key in keys}})
        new.append({**identity, **{key: audit.json_value(card[key]) for key in keys}})
    return old, new


async def _record(
    session: AsyncSession,
    ctx: RequestContext,
    action: AuditAction,
    group: UserGroup,
    *,
    changes: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    old: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    before = changes[0] if changes else old or []
    after = changes[1] if changes else None
    about = {"user_group_name": group.name, "count": len(before), **(context or {})}
    await audit.record(
        session,
        ctx,
        action,
        group,
        user_group_id=group.id,
        old={**about, "cards": before},
        new={**about, "cards": after} if after is not None else about,
    )
