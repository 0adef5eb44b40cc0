"""The cards box: add one, add many (JSON or CSV, all or nothing), search, update, move, remove."""

import csv
import io
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.csv_cells import read_cell
from app.enums import AuditAction
from app.errors import CardsRejected, CardUidTaken, InvalidInput, NotFound
from app.models import Card, UserGroup
from app.pagination import PageRequest
from app.repositories.user_groups import CardRepository, UserGroupRepository
from app.schemas.user_groups import MAX_CARDS_PER_REQUEST, CardCreate, CardUpdate
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.user_groups import lock_group

CSV_COLUMNS = ("uid", "label", "printed_number", "valid_from", "valid_until", "blocked")


async def add_card(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, data: CardCreate
) -> Card:
    group = await lock_group(session, ctx, user_group_id)
    policy.can_add_cards(group).enforce()
    cards = CardRepository(session, ctx.organization_id)
    holder = (await cards.holders([data.uid])).get(data.uid)
    if holder is not None:
        raise CardUidTaken(
            f"Card {data.uid} already belongs to user group {holder[1]!r}.",
            field="uid",
            user_group_id=str(holder[0]),
            user_group_name=holder[1],
        )
    card = cards.add(Card(organization_id=ctx.organization_id, user_group_id=group.id, **data.model_dump()))
    await audit.record(
        session,
        ctx,
        AuditAction.card_added,
        card,
        user_group_id=group.id,
        new={"user_group_name": group.name},
    )
    await local_lists.cards_changed(session, ctx, [card.uid])
    return card


async def add_cards(
    session: AsyncSession,
    ctx: RequestContext,
    user_group_id: uuid.UUID,
    raw_rows: Sequence[dict[str, Any]],
    locations: Sequence[list[str | int]] | None = None,
    errors: Sequence[dict[str, Any]] = (),
) -> int:
    """All or nothing: every bad row is reported together (bad format, duplicate in the request,
    UID already in a group), and nothing is added unless every row is good."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_add_cards(group).enforce()
    locations = locations or [["body", "cards", index] for index in range(len(raw_rows))]
    rows: list[CardCreate] = []
    row_locations: list[list[str | int]] = []
    errors = list(errors)
    for raw, location in zip(raw_rows, locations, strict=True):
        try:
            rows.append(CardCreate.model_validate(raw))
            row_locations.append(location)
        except ValidationError as invalid:
            for problem in invalid.errors():
                field = ".".join(str(part) for part in problem["loc"]) or "row"
                errors.append(_row_error(location, field, problem["msg"], problem["type"]))
    first_seen: dict[str, list[str | int]] = {}
    for row, location in zip(rows, row_locations, strict=True):
        if row.uid in first_seen:
            errors.append(
                _row_error(
                    location,
                    "uid",
                    f"duplicate of {_describe(first_seen[row.uid])} in this request",
                    "duplicate_in_request",
                    uid=row.uid,
                )
            )
        else:
            first_seen[row.uid] = location
    cards = CardRepository(session, ctx.organization_id)
    holders = await cards.holders(list(first_seen))
    for uid, (holder_id, holder_name) in holders.items():
        errors.append(
            _row_error(
                first_seen[uid],
                "uid",
                f"card already belongs to user group {holder_name!r}",
                "uid_taken",
                uid=uid,
                user_group_id=str(holder_id),
                user_group_name=holder_name,
            )
        )
    if errors:
        raise CardsRejected(
            f"{len(errors)} problem(s) found; nothing was added. Fix them and send the whole list again.",
            errors=sorted(errors, key=lambda error: [(isinstance(p, int), p) for p in error["loc"]]),
        )
    inserted = await cards.insert_many(
        [{"user_group_id": group.id, **row.model_dump()} for row in rows], datetime.now(UTC)
    )
    await audit.record(
        session,
        ctx,
        AuditAction.cards_bulk_added,
        group,
        user_group_id=group.id,
        new={
            "user_group_name": group.name,
            "count": len(rows),
            "cards": audit.rows_values(Card, inserted),
        },
    )
    await local_lists.cards_changed(session, ctx, [row.uid for row in rows])
    return len(rows)


async def import_cards_csv(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, content: bytes
) -> int:
    await lock_group(session, ctx, user_group_id)  # an unknown group is a 404 before the file is read
    raw_rows, locations, line_errors = parse_cards_csv(content)
    return await add_cards(session, ctx, user_group_id, raw_rows, locations, line_errors)


def parse_cards_csv(
    content: bytes,
) -> tuple[list[dict[str, Any]], list[list[str | int]], list[dict[str, Any]]]:
    """A header line naming the columns (`uid` required; also label, printed_number, valid_from,
    valid_until, blocked), each named once, then one card per line. Returns the rows and their line
    numbers; the rows are validated like the JSON ones, so errors name the line and the column. A
    cell neutralized against formulas (`'=...`, as our exports write it) is read back as written."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _file_error(f"the file is not UTF-8 text (byte {error.start})") from error
    if "\x00" in text:
        raise _file_error("the file contains NUL bytes; it is not a CSV text file")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as error:
        raise _file_error(f"unreadable CSV: {error}") from error
    if "uid" not in header:
        raise _file_error("the first line must be a header naming the columns, with at least `uid`")
    unknown = [name or "(empty)" for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise _file_error(f"unknown columns: {', '.join(unknown)}; allowed: {', '.join(CSV_COLUMNS)}")
    repeated = sorted(name for name, count in Counter(header).items() if count > 1)
    if repeated:  # a dict row would keep only the last of them
        raise _file_error(f"columns named more than once: {', '.join(repeated)}")
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    locations: list[list[str | int]] = []
    line_errors: list[dict[str, Any]] = []
    try:
        for record in reader:
            if len(rows) + len(line_errors) >= MAX_CARDS_PER_REQUEST:
                raise _file_error(f"at most {MAX_CARDS_PER_REQUEST} cards per request")
            if None in record:
                line: list[str | int] = ["file", reader.line_num]
                line_errors.append(_row_error(line, "row", "more values than columns", "extra_values"))
                continue
            rows.append(
                {key: read_cell(value.strip()) for key, value in record.items() if value and value.strip()}
            )
            locations.append(["file", reader.line_num])
    except csv.Error as error:
        raise _file_error(f"unreadable CSV at line {reader.line_num}: {error}") from error
    if not rows and not line_errors:
        raise _file_error("the file has no cards")
    return rows, locations, line_errors


def _describe(location: Sequence[str | int]) -> str:
    return f"line {location[1]}" if location[0] == "file" else ".".join(str(p) for p in location[1:])


def _row_error(
    location: list[str | int], field: str, message: str, kind: str, **extra: Any
) -> dict[str, Any]:
    where = location[1:] if location[0] == "body" else location
    return {
        "field": ".".join(str(part) for part in [*where, field]),
        "loc": [*location, field],
        "msg": message,
        "type": kind,
        **extra,
    }


def _file_error(message: str) -> InvalidInput:
    return InvalidInput(
        f"The CSV file cannot be read: {message}.",
        errors=[{"field": "file", "loc": ["body", "file"], "msg": message, "type": "csv_invalid"}],
    )


async def list_cards(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    user_group_id: uuid.UUID | None,
    query: str | None,
) -> tuple[Sequence[Card], bool]:
    if (
        user_group_id is not None
        and await UserGroupRepository(session, ctx.organization_id).get(user_group_id) is None
    ):
        raise NotFound(f"User group {user_group_id} not found.")
    return await CardRepository(session, ctx.organization_id).search(page, user_group_id, query)


async def get_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> Card:
    card = await CardRepository(session, ctx.organization_id).get(id_)
    if card is None:
        raise NotFound(f"Card {id_} not found.")
    return card


async def update_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, data: CardUpdate) -> Card:
    card = await _locked_card(session, ctx, id_)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("blocked", False) is None:
        changes.pop("blocked")
    valid_from = changes.get("valid_from", card.valid_from)
    valid_until = changes.get("valid_until", card.valid_until)
    if valid_from and valid_until and valid_until <= valid_from:
        raise InvalidInput(
            "valid_until must be after valid_from.",
            errors=[
                {
                    "field": "valid_until",
                    "loc": ["body", "valid_until"],
                    "msg": "must be after valid_from",
                    "type": "value_error",
                }
            ],
        )
    for key, value in changes.items():
        setattr(card, key, value)
    await audit.record(
        session,
        ctx,
        AuditAction.card_updated,
        card,
        user_group_id=card.user_group_id,
        old={"uid": card.uid},
        new={"uid": card.uid, "label": card.label},
        only_if_changed=True,
    )
    await local_lists.cards_changed(session, ctx, [card.uid])
    return card


async def move_card(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, target_group_id: uuid.UUID
) -> Card:
    card = await get_card(session, ctx, id_)
    source_group_id = card.user_group_id
    if source_group_id == target_group_id:
        return card
    # Lock both groups in id order, so two opposite moves cannot deadlock.
    locked: dict[uuid.UUID, UserGroup] = {}
    for group_id in sorted({source_group_id, target_group_id}):
        locked[group_id] = await lock_group(session, ctx, group_id)
    card = await _locked_card(session, ctx, id_)
    source, target = locked[source_group_id], locked[target_group_id]
    policy.can_add_cards(target).enforce()
    card.user_group_id = target.id
    context = {
        "uid": card.uid,
        "label": card.label,
        "from_user_group": source.name,
        "to_user_group": target.name,
    }
    # One change, in the history of both groups: each record shows the card's old -> new row.
    for action, group in ((AuditAction.card_moved_out, source), (AuditAction.card_moved_in, target)):
        await audit.record(session, ctx, action, card, user_group_id=group.id, old=context, new=context)
    await local_lists.cards_changed(session, ctx, [card.uid])
    return card


async def remove_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> None:
    card = await _locked_card(session, ctx, id_)
    await CardRepository(session, ctx.organization_id).delete(card)
    await audit.record(session, ctx, AuditAction.card_removed, card, user_group_id=card.user_group_id)
    await local_lists.cards_changed(session, ctx, [card.uid])


async def _locked_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> Card:
    card = await CardRepository(session, ctx.organization_id).get(id_, for_update=True)
    if card is None:
        raise NotFound(f"Card {id_} not found.")
    return card
