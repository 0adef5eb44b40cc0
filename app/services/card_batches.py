"""Many cards at once, all or nothing, from JSON or a CSV file: read -> validate (pure) -> check
the UIDs against the organization -> insert, with one audit record for the batch."""

import csv
import io
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.csv_cells import read_cell
from app.enums import AuditAction
from app.errors import CardsRejected, FieldError, InvalidInput
from app.models import Card
from app.repositories.cards import CardRepository
from app.schemas.cards import MAX_CARDS_PER_REQUEST, CardCreate
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import lock_group

# The CSV columns are the fields of a card to create (the UID first): a new field is a new column.
CSV_COLUMNS = ("uid", *(name for name in CardCreate.model_fields if name != "uid"))

Location = tuple[str | int, ...]  # ("body", "cards", 3) or ("file", 7): where a row came from


@dataclass(frozen=True)
class CardBatch:
    """The rows as sent, each with where it came from, and what was wrong while reading them."""

    rows: Sequence[tuple[Location, dict[str, Any]]]
    errors: Sequence[FieldError] = field(default=())

    @classmethod
    def from_json(cls, raw_rows: Sequence[dict[str, Any]]) -> "CardBatch":
        return cls([(("body", "cards", index), raw) for index, raw in enumerate(raw_rows)])


def validate_cards(batch: CardBatch) -> tuple[list[tuple[Location, CardCreate]], list[FieldError]]:
    """Each row as a card to create, and every error: a bad value, a UID twice in the batch."""
    cards: list[tuple[Location, CardCreate]] = []
    errors = list(batch.errors)
    for location, raw in batch.rows:
        try:
            cards.append((location, CardCreate.model_validate(raw)))
        except ValidationError as invalid:
            for problem in invalid.errors():
                name = ".".join(str(part) for part in problem["loc"]) or "row"
                errors.append(FieldError((*location, name), problem["msg"], problem["type"]))
    first_seen: dict[str, Location] = {}
    for location, card in cards:
        if card.uid in first_seen:
            message = f"duplicate of {_describe(first_seen[card.uid])} in this request"
            errors.append(row_error(location, "uid", message, "duplicate_in_request", uid=card.uid))
        else:
            first_seen[card.uid] = location
    return cards, errors


async def add_cards(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, batch: CardBatch
) -> int:
    """All or nothing: every bad row is reported together (bad format, duplicate in the request,
    UID already in a group), and nothing is added unless every row is good."""
    group = await lock_group(session, ctx, user_group_id)
    policy.can_add_cards(group).enforce()
    cards, errors = validate_cards(batch)
    repository = CardRepository(session, ctx.organization_id)
    first_location = {card.uid: location for location, card in reversed(cards)}
    for uid, (holder_id, holder_name) in (await repository.holders(list(first_location))).items():
        message = f"card already belongs to user group {holder_name!r}"
        extra = {"uid": uid, "user_group_id": str(holder_id), "user_group_name": holder_name}
        errors.append(row_error(first_location[uid], "uid", message, "uid_taken", **extra))
    if errors:
        errors.sort(key=lambda error: [(isinstance(part, int), part) for part in error.loc])
        raise CardsRejected(
            f"{len(errors)} problem(s) found; nothing was added. Fix them and send the whole list again.",
            errors=[error.as_dict() for error in errors],
        )
    rows = [{"user_group_id": group.id, **card.model_dump()} for _, card in cards]
    inserted = await repository.insert_many(rows, datetime.now(UTC))
    await audit.record(
        session,
        ctx,
        AuditAction.cards_bulk_added,
        group,
        user_group_id=group.id,
        new={"user_group_name": group.name, "count": len(rows), "cards": audit.rows_values(Card, inserted)},
    )
    await local_lists.cards_changed(session, ctx, [card.uid for _, card in cards])
    return len(rows)


async def import_cards_csv(
    session: AsyncSession, ctx: RequestContext, user_group_id: uuid.UUID, content: bytes
) -> int:
    await lock_group(session, ctx, user_group_id)  # an unknown group is a 404 before the file is read
    return await add_cards(session, ctx, user_group_id, parse_cards_csv(content))


def parse_cards_csv(content: bytes) -> CardBatch:
    """A header line naming the columns (`uid` required, the others in CSV_COLUMNS), each named
    once, then one card per line. The rows are validated like the JSON ones, so errors name the
    line and the column. A cell neutralized against formulas (`'=...`, as our exports write it)
    is read back as written."""
    reader = csv.DictReader(io.StringIO(_text(content), newline=""), strict=True)
    reader.fieldnames = _header(reader)
    rows: list[tuple[Location, dict[str, Any]]] = []
    line_errors: list[FieldError] = []
    try:
        for record in reader:
            if len(rows) + len(line_errors) >= MAX_CARDS_PER_REQUEST:
                raise _file_error(f"at most {MAX_CARDS_PER_REQUEST} cards per request")
            line: Location = ("file", reader.line_num)
            if None in record:
                line_errors.append(row_error(line, "row", "more values than columns", "extra_values"))
                continue
            rows.append(
                (
                    line,
                    {
                        key: read_cell(value.strip())
                        for key, value in record.items()
                        if value and value.strip()
                    },
                )
            )
    except csv.Error as error:
        raise _file_error(f"unreadable CSV at line {reader.line_num}: {error}") from error
    if not rows and not line_errors:
        raise _file_error("the file has no cards")
    return CardBatch(rows, line_errors)


def _text(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _file_error(f"the file is not UTF-8 text (byte {error.start})") from error
    if "\x00" in text:
        raise _file_error("the file contains NUL bytes; it is not a CSV text file")
    return text


def _header(reader: "csv.DictReader[str]") -> list[str]:
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
    return header


def row_error(location: Location, name: str, message: str, kind: str, **extra: Any) -> FieldError:
    return FieldError((*location, name), message, kind, extra)


def _describe(location: Location) -> str:
    return f"line {location[1]}" if location[0] == "file" else ".".join(str(p) for p in location[1:])


def _file_error(message: str) -> InvalidInput:
    return InvalidInput.at(
        f"The CSV file cannot be read: {message}.", FieldError(("body", "file"), message, "csv_invalid")
    )
