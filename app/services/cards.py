"""The cards box: add one, search, update, move, remove (many at once: app/services/card_batches.py)."""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction
from app.errors import CardUidTaken, FieldError, InvalidInput
from app.models import Card, UserGroup
from app.pagination import PageRequest
from app.repositories.cards import CardRepository
from app.repositories.user_groups import UserGroupRepository
from app.schemas.cards import CardCreate, CardUpdate
from app.services import audit, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import apply_changes, get_or_404, lock_group, sent_changes


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


async def list_cards(
    session: AsyncSession,
    ctx: RequestContext,
    page: PageRequest,
    user_group_id: uuid.UUID | None,
    query: str | None,
) -> tuple[Sequence[Card], bool]:
    if user_group_id is not None:
        await get_or_404(UserGroupRepository(session, ctx.organization_id), user_group_id)
    return await CardRepository(session, ctx.organization_id).search(page, user_group_id, query)


async def get_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> Card:
    return await get_or_404(CardRepository(session, ctx.organization_id), id_)


async def update_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, data: CardUpdate) -> Card:
    card = await _locked_card(session, ctx, id_)
    changes = sent_changes(data, Card)
    valid_from = changes.get("valid_from", card.valid_from)
    valid_until = changes.get("valid_until", card.valid_until)
    if valid_from and valid_until and valid_until <= valid_from:
        raise InvalidInput.at(
            "valid_until must be after valid_from.",
            FieldError.body("valid_until", "must be after valid_from"),
        )
    context = {"uid": card.uid, "label": changes.get("label", card.label)}
    await apply_changes(
        session,
        ctx,
        card,
        changes,
        AuditAction.card_updated,
        user_group_id=card.user_group_id,
        old={"uid": card.uid},
        new=context,
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
    await local_lists.cards_removed(session, ctx, [(card.uid, card.user_group_id)])


async def _locked_card(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> Card:
    return await get_or_404(CardRepository(session, ctx.organization_id), id_, for_update=True)
