"""Unknown cards: UIDs refused as unknown, kept per charging group for the desk to add them to a
group; and the learning mode's write, which adds an unknown UID at once (app/services/learning_mode.py).

The hot path does not wait for the record: `SightingBuffer.note` is a dictionary update in the
worker's memory, and a background task (`run`, started with the app) writes what was noted every
UNKNOWN_CARDS_FLUSH_SECONDS in one transaction, one upsert per (organization, UID, charging
group), then trims each organization to its UNKNOWN_CARDS_KEPT most recently seen. What a worker
noted and did not write yet is lost if it dies (at most that interval's sightings).
"""

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.enums import ActivationScope, AuditAction, AuthorizationReason
from app.errors import NotFound
from app.models import Card, UnknownCard
from app.pagination import PageRequest
from app.repositories import unknown_cards as repository
from app.repositories.activation import ActivationRepository
from app.repositories.authorization import AuthorizationFacts, ConnectorRef, read_facts
from app.repositories.cards import CardRepository
from app.repositories.charging_groups import ChargingGroupRepository
from app.repositories.unknown_cards import LearningModeRepository, Sighting, UnknownCardRepository
from app.schemas.cards import CardCreate, normalize_uid
from app.schemas.unknown_cards import AddUnknownCard
from app.services import audit, cards, local_lists, policy
from app.services.context import RequestContext
from app.services.entities import get_or_404, lock_group

log = logging.getLogger(__name__)

UNKNOWN_CARDS_KEPT = 1000  # per organization, the most recently seen
BUFFER_LIMIT = 10_000  # distinct (organization, UID, charging group) per worker between writes


class SightingBuffer:
    """Unknown UIDs noted by the hot path, written later in batches."""

    def __init__(self, limit: int = BUFFER_LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self._pending: dict[tuple[uuid.UUID, str, uuid.UUID], Sighting] = {}
        self._writing = asyncio.Lock()  # one write at a time: a flush returns once all is written

    def note(self, organization_id: uuid.UUID, uid: str, charging_group_id: uuid.UUID, at: datetime) -> None:
        key = (organization_id, uid, charging_group_id)
        seen = self._pending.get(key)
        if seen is not None:
            self._pending[key] = replace(seen, last_seen_at=at, seen_count=seen.seen_count + 1)
        elif len(self._pending) < self.limit:
            self._pending[key] = Sighting(organization_id, uid, charging_group_id, at, at, 1)
        else:
            self.dropped += 1

    async def flush(self, db: Database) -> int:
        """Writes what was noted; returns how many entries."""
        async with self._writing:
            sightings, self._pending = list(self._pending.values()), {}
            if sightings:
                async with UnitOfWork(db) as session:
                    await repository.upsert_sightings(session, sightings)
                    organizations = {s.organization_id for s in sightings}
                    await repository.trim(session, organizations, UNKNOWN_CARDS_KEPT)
            return len(sightings)

    async def run(self, db: Database, interval_seconds: float) -> None:
        """The background writer; a failed write (database away) drops that batch and logs it."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.flush(db)
            except Exception:
                log.exception("unknown cards: a batch of sightings could not be written and is dropped")


def valid_uid(id_token: str) -> str | None:
    """A token that is no valid UID can never become a card: it is not kept."""
    try:
        return normalize_uid(id_token)
    except ValueError:
        return None


async def after_unknown(
    db: Database,
    buffer: SightingBuffer,
    ctx: RequestContext,
    facts: AuthorizationFacts,
    id_token: str,
    decision: policy.Decision,
    cache_seconds: int,
) -> policy.Decision:
    """An unknown UID: learned when a learning mode runs on the charging group (one write, then
    the decision for the new card), otherwise noted for the unknown-cards list."""
    uid = valid_uid(id_token)
    if uid is None:
        return decision
    now = datetime.now(UTC)
    ends = facts.learning_ends_at
    if facts.learning_user_group_id is not None and ends is not None and now < ends:
        async with UnitOfWork(db) as session:
            learned = await _learn(session, ctx, facts, uid, now)
            if learned is not None:
                # The new card's own facts (its group's rules included), read in the same
                # transaction: it is decided like any card, only the reason says it was learned.
                ref = ConnectorRef(connector_id=facts.connector_id)
                known = await read_facts(session, ctx.organization_id, uid, ref, now)
        if learned is not None and known is not None:
            return learned_decision(policy.decide(known, now, cache_seconds))
    buffer.note(ctx.organization_id, uid, facts.charging_group_id, now)
    return decision


def learned_decision(decision: policy.Decision) -> policy.Decision:
    return replace(decision, reason=AuthorizationReason.card_learned) if decision.accepted else decision


async def _learn(
    session: AsyncSession, ctx: RequestContext, facts: AuthorizationFacts, uid: str, now: datetime
) -> Card | None:
    """Adds the UID to the learning group, re-checked under the group's lock: still learning
    here, not archived, active here, UID still free. None: not learned (it stays unknown)."""
    group_id, charging_group_id = facts.learning_user_group_id, facts.charging_group_id
    assert group_id is not None
    try:
        group = await lock_group(session, ctx, group_id)
    except NotFound:
        return None
    learning = LearningModeRepository(session, ctx.organization_id)
    active_here = group.activation_scope == ActivationScope.all or charging_group_id in (
        await ActivationRepository(session, ctx.organization_id).charging_group_ids(group.id)
    )
    if not (policy.can_add_cards(group).allowed and active_here):
        return None
    if not await learning.running(group.id, charging_group_id, now):
        return None
    card_repository = CardRepository(session, ctx.organization_id)
    if await card_repository.holders([uid]):
        return None
    learner = replace(ctx, actor_name=f"learning mode (key {ctx.actor_name})")
    card = card_repository.add(Card(organization_id=ctx.organization_id, user_group_id=group.id, uid=uid))
    await audit.record(
        session,
        learner,
        AuditAction.card_learned,
        card,
        user_group_id=group.id,
        new={
            "user_group_name": group.name,
            "charging_group_id": charging_group_id,
            "charging_group_name": facts.charging_group_name,
        },
    )
    await local_lists.cards_changed(session, learner, [uid])
    await UnknownCardRepository(session, ctx.organization_id).forget_uid(uid)
    return card


async def list_unknown_cards(
    session: AsyncSession, ctx: RequestContext, page: PageRequest, charging_group_id: uuid.UUID | None
) -> tuple[Sequence[tuple[UnknownCard, str]], bool]:
    if charging_group_id is not None:
        await get_or_404(ChargingGroupRepository(session, ctx.organization_id), charging_group_id)
    return await UnknownCardRepository(session, ctx.organization_id).page(page, charging_group_id)


async def get_unknown_card(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID
) -> tuple[UnknownCard, str]:
    found = await UnknownCardRepository(session, ctx.organization_id).get(id_)
    if found is None:
        raise NotFound("No such unknown card in this organization.")
    return found


async def add_unknown_card(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, data: AddUnknownCard
) -> Card:
    """The unknown UID becomes a card of the group (as POST .../cards would add it, audited as
    `card.added`); it leaves the unknown list."""
    entry, _ = await get_unknown_card(session, ctx, id_)
    fields = data.model_dump(exclude={"user_group_id"})
    card = await cards.add_card(session, ctx, data.user_group_id, CardCreate(uid=entry.uid, **fields))
    await UnknownCardRepository(session, ctx.organization_id).forget_uid(entry.uid)
    return card
