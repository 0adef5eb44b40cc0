"""Charging sessions reported by the charge-point backend, documented with the group's tariff."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, SessionStatus
from app.errors import FieldError, InvalidInput, SessionAlreadyStopped
from app.models import ChargingSession, TariffVersion
from app.pagination import PageRequest
from app.repositories.authorization import AuthorizationFacts
from app.repositories.cards import CardRepository
from app.repositories.sessions import SessionFilters, SessionRepository

__all__ = [
    "SessionFilters",
    "get_session",
    "list_sessions",
    "start_session",
    "stop_session",
]
from app.repositories.user_groups import UserGroupRepository
from app.schemas.sessions import MAX_SESSION_DURATION, MAX_SESSION_ENERGY_WH, SessionStart, SessionStop
from app.services import audit, policy, pricing
from app.services.authorization import connector_ref, read_facts, token_uid
from app.services.context import RequestContext
from app.services.entities import get_or_404

# What pricing reads from the copy of the tariff a session keeps (app/services/pricing.py).
TARIFF_SNAPSHOT_FIELDS = (
    "currency",
    "price_per_kwh",
    "session_fee",
    "parking_fee_per_hour",
    "parking_grace_minutes",
    "valid_from",
)


async def start_session(
    session: AsyncSession, ctx: RequestContext, data: SessionStart, cache_seconds: int
) -> tuple[ChargingSession, bool]:
    """Records the session (idempotent on transaction_id). Returns it and whether it was new.

    A session the backend reports has happened, so it is recorded even when the decision now
    refuses it (a charger may have started it offline); `decision_status` says so. The card's user
    group is locked FOR SHARE, so a concurrent delete or archive of the group waits for this
    transaction, and one that committed first is seen here. Free charging (access control off) is
    no group's session: recorded without group and tariff, the card still named.

    Two starts with the same transaction_id at once: the insert is INSERT ... ON CONFLICT DO
    NOTHING, so the second waits for the first transaction (PostgreSQL) or runs after it (SQLite
    serializes writers), inserts nothing, and returns the first one's record.
    """
    sessions = SessionRepository(session, ctx.organization_id)
    existing = await sessions.by_transaction_id(data.transaction_id)
    if existing is not None:
        return existing, False
    ref = connector_ref(data)
    facts = await read_facts(session, ctx, data.id_token, ref, data.started_at)
    if facts.user_group_id is not None:
        # Also for free charging: deleting the group deletes the card this session names.
        await UserGroupRepository(session, ctx.organization_id).get_for_share(facts.user_group_id)
        facts = await read_facts(session, ctx, data.id_token, ref, data.started_at)  # after the lock
    decision = policy.decide(facts, data.started_at, cache_seconds)
    group_id = decision.user_group_id
    tariff = await sessions.tariff_in_force(group_id, data.started_at) if group_id is not None else None
    charging_session = await sessions.insert_once(**_session_row(data, facts, decision, tariff))
    if charging_session is None:
        recorded = await sessions.by_transaction_id(data.transaction_id)
        assert recorded is not None, "the conflicting insert committed, so its row is visible"
        return recorded, False
    first_use = await _mark_first_use(session, ctx, facts, decision, data.started_at)
    await audit.record(
        session,
        ctx,
        AuditAction.session_started,
        charging_session,
        user_group_id=group_id,
        # The row was inserted by a statement (ON CONFLICT), not by the session: all of it is new.
        # The names this record had before it listed the whole row are kept for readers of the trail.
        new={
            **audit.row_values(charging_session),
            "card_uid": charging_session.id_token,
            "decision": decision.status,
            "reason": decision.reason,
            **first_use,
        },
    )
    return charging_session, True


async def _mark_first_use(
    session: AsyncSession,
    ctx: RequestContext,
    facts: AuthorizationFacts,
    decision: policy.Decision,
    at: datetime,
) -> dict[str, Any]:
    """An accepted session with a group's card is the card's use: its first one starts the clock
    of the "valid N hours after first use" rule (the end is fixed then, with the rule in force)."""
    if not decision.accepted or decision.user_group_id is None or decision.card_id is None:
        return {}
    hours = facts.rule_card_validity_hours
    expires_at = at + timedelta(hours=hours) if hours is not None else None
    if not await CardRepository(session, ctx.organization_id).mark_first_use(
        decision.card_id, at, expires_at
    ):
        return {}
    return {"card_first_used_at": at, "card_expires_at": expires_at}


async def stop_session(
    session: AsyncSession, ctx: RequestContext, id_: uuid.UUID, data: SessionStop
) -> ChargingSession:
    """Energy, duration and cost from the session's own tariff snapshot. Stopping again with the
    same values returns the session unchanged."""
    charging_session = await get_or_404(SessionRepository(session, ctx.organization_id), id_, for_update=True)
    if charging_session.status == SessionStatus.completed:
        if (charging_session.meter_stop_wh, charging_session.stopped_at) == (
            data.meter_stop_wh,
            data.stopped_at,
        ):
            return charging_session
        raise SessionAlreadyStopped(
            f"Session {id_} was already stopped at {charging_session.stopped_at} "
            f"with meter {charging_session.meter_stop_wh} Wh."
        )
    errors = stop_contradictions(charging_session, data)
    if errors:
        raise InvalidInput.at("The stop values contradict the start of the session.", *errors)
    energy = pricing.energy_kwh(charging_session.meter_start_wh, data.meter_stop_wh)
    charging_session.meter_stop_wh = data.meter_stop_wh
    charging_session.stopped_at = data.stopped_at
    charging_session.energy_kwh = energy
    charging_session.status = SessionStatus.completed
    if charging_session.tariff_snapshot is not None:
        charging_session.cost = pricing.session_cost(
            charging_session.tariff_snapshot, energy, charging_session.started_at, data.stopped_at
        )
    await audit.record(
        session,
        ctx,
        AuditAction.session_stopped,
        charging_session,
        user_group_id=charging_session.user_group_id,
        new={
            "transaction_id": charging_session.transaction_id,
            "cost": charging_session.cost,  # also without a tariff, where it stays null
            "currency": charging_session.currency,
        },
    )
    return charging_session


def _session_row(
    data: SessionStart, facts: AuthorizationFacts, decision: policy.Decision, tariff: TariffVersion | None
) -> dict[str, Any]:
    """The new session's columns: what the backend reported, the decision, the names as they are
    now, and a copy of the tariff in force (pricing reads the copy, not the group's tariff)."""
    in_group = decision.user_group_id is not None
    return {
        "transaction_id": data.transaction_id,
        "status": SessionStatus.active,
        "id_token": token_uid(data.id_token),
        "card_id": decision.card_id,
        "card_label": facts.card_label,
        "user_group_id": decision.user_group_id,
        "user_group_name": facts.user_group_name if in_group else None,
        "connector_id": facts.connector_id,
        "evse_id": facts.evse_id,
        "charging_group_id": facts.charging_group_id,
        "charging_group_name": facts.charging_group_name,
        "tariff_version_id": tariff.id if tariff else None,
        "tariff_snapshot": (
            {key: audit.json_value(getattr(tariff, key)) for key in TARIFF_SNAPSHOT_FIELDS}
            if tariff
            else None
        ),
        "currency": tariff.currency if tariff else None,
        "decision_status": decision.status,
        "decision_reason": decision.reason,
        "meter_start_wh": data.meter_start_wh,
        "started_at": data.started_at,
    }


def stop_contradictions(started: ChargingSession, data: SessionStop) -> list[FieldError]:
    """What in a stop contradicts the session's start: a meter below it or implausibly far above,
    a time before it or implausibly long after."""
    errors = []
    meter, since = started.meter_start_wh, started.started_at
    if data.meter_stop_wh < meter:
        errors.append(FieldError.body("meter_stop_wh", f"must not be below meter_start_wh ({meter})"))
    elif data.meter_stop_wh - meter > MAX_SESSION_ENERGY_WH:
        message = f"at most {MAX_SESSION_ENERGY_WH:,} Wh above meter_start_wh ({meter})"
        errors.append(FieldError.body("meter_stop_wh", message))
    if data.stopped_at < since:
        errors.append(FieldError.body("stopped_at", f"must not be before started_at ({since.isoformat()})"))
    elif data.stopped_at - since > MAX_SESSION_DURATION:
        message = f"at most {MAX_SESSION_DURATION.days} days after started_at ({since.isoformat()})"
        errors.append(FieldError.body("stopped_at", message))
    return errors


async def get_session(session: AsyncSession, ctx: RequestContext, id_: uuid.UUID) -> ChargingSession:
    return await get_or_404(SessionRepository(session, ctx.organization_id), id_)


async def list_sessions(
    session: AsyncSession, ctx: RequestContext, page: PageRequest, filters: SessionFilters
) -> tuple[Sequence[ChargingSession], bool]:
    return await SessionRepository(session, ctx.organization_id).search(page, filters)
