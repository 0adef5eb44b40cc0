"""`ugs demo-data`: a demo organization holding the seed scenario, made through the services (so
every step has its audit record), and a fresh admin key.

The scenario: three sites of two charge points with two connectors each; a "Guests" cards-only
group with a tariff, active on two of the sites (which switches their access control on; the staff
car park stays free charging); guest cards of which one is blocked and one expired; two finished
sessions documented with the tariff; an archived group with its own card and session. Running it
again adds nothing but a new key: each part is made only when it is missing.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.enums import ActivationScope, AuditAction, ChargePointRole, PlugType, Role
from app.models import Organization
from app.pagination import PageRequest
from app.repositories.api_keys import find_organization_by_name
from app.repositories.user_groups import UserGroupRepository
from app.schemas.activation import ActivationInput
from app.schemas.cards import CardCreate
from app.schemas.charging import ChargePointCreate, ChargingGroupCreate, ConnectorCreate
from app.schemas.sessions import SessionStart, SessionStop
from app.schemas.tariffs import TariffInput
from app.schemas.user_groups import UserGroupCreate
from app.services import (
    api_keys,
    audit,
    cards,
    charge_points,
    charging_groups,
    connectors,
    sessions,
    user_groups,
)
from app.services.context import RequestContext

ORGANIZATION = "Demo Hotel GmbH"
ACTOR = "demo-data"
SITES = (("Car park P1", "Level -1"), ("Hotel entrance", "Front yard"), ("Staff car park", None))
GUESTS = "Guests"
GUESTS_SITES = ("Car park P1", "Hotel entrance")
GUESTS_TARIFF = TariffInput(
    currency="EUR",
    price_per_kwh=Decimal("0.30"),
    session_fee=Decimal("0.50"),
    parking_fee_per_hour=Decimal("1.20"),
    parking_grace_minutes=240,
)
TARIFF_DAYS_BEFORE = 30
ARCHIVED = "Trade fair 2026"
ARCHIVED_TARIFF = TariffInput(currency="EUR", price_per_kwh=Decimal("0.25"))


def evse_id(site: int, charge_point: int, connector: int) -> str:
    return f"DE*DEM*E{site:02d}{charge_point:02d}*{connector}"


@dataclass(frozen=True)
class DemoCard:
    uid: str
    label: str
    answer: str  # what POST /v1/authorize says for it at a connector of Car park P1


GUEST_CARD = DemoCard("04A1B2C3", "Room 101", "Accepted")
GUEST_CARD_2 = DemoCard("04A1B2C4", "Room 102", "Accepted")
BLOCKED_CARD = DemoCard("04A1B2C5", "Room 103 (reported lost)", "Blocked")
EXPIRED_CARD = DemoCard("04A1B2C6", "Room 104 (checked out)", "Expired")
ARCHIVED_CARD = DemoCard("04F00D01", "Fair visitor 1", "Invalid")
UNKNOWN_UID = "04FFFFFF"
# The connector the printed authorize call uses; the staff car park's is free charging.
GUEST_EVSE = evse_id(1, 1, 1)
FREE_EVSE = evse_id(3, 1, 1)


@dataclass(frozen=True)
class DemoSession:
    transaction_id: str
    card: DemoCard
    evse_id: str
    days_ago: int
    minutes: int
    energy_wh: int
    cost: str  # documented with the group's tariff (section 6 of the spec)


SESSIONS = (
    # 7 kWh x 0.30 + 0.50 fee; 40 minutes is inside the 4 h parking grace.
    DemoSession("DEMO-TX-0001", GUEST_CARD, evse_id(1, 1, 1), 3, 40, 7_000, "2.60"),
    # 18.5 kWh x 0.30 + 0.50 + 2 h over the grace x 1.20.
    DemoSession("DEMO-TX-0002", GUEST_CARD_2, evse_id(2, 1, 2), 2, 360, 18_500, "8.45"),
)
ARCHIVED_SESSION = DemoSession("DEMO-TX-0003", ARCHIVED_CARD, evse_id(2, 2, 1), 20, 90, 10_000, "2.50")


async def load(db: Database, now: datetime | None = None) -> str:
    """Makes whatever part of the scenario is missing; returns a new admin key (shown once)."""
    now = now or datetime.now(UTC)
    async with UnitOfWork(db) as session:
        organization = await _organization(session)
        ctx = api_keys.system_context(organization.id, ACTOR)
        await _infrastructure(session, ctx)
        groups = UserGroupRepository(session, organization.id)
        if await groups.name_taken(user_groups.name_key(GUESTS)) is None:
            await _guests(session, ctx, now)
        if await groups.name_taken(user_groups.name_key(ARCHIVED)) is None:
            await _archived_group(session, ctx, now)
        _, secret = await api_keys.create_api_key(session, ctx, "demo admin", Role.admin)
    return secret


async def _organization(session: AsyncSession) -> Organization:
    organization = await find_organization_by_name(session, ORGANIZATION)
    return organization or await api_keys.create_organization(session, ORGANIZATION)


async def _charging_group_ids(session: AsyncSession, ctx: RequestContext) -> dict[str, uuid.UUID]:
    views, _ = await charging_groups.list_charging_groups(session, ctx, PageRequest(limit=200, after=None))
    return {view.group.name: view.group.id for view in views}


async def _infrastructure(session: AsyncSession, ctx: RequestContext) -> None:
    existing = await _charging_group_ids(session, ctx)
    for site_number, (name, location) in enumerate(SITES, start=1):
        if name in existing:
            continue
        group = await charging_groups.create_charging_group(
            session, ctx, ChargingGroupCreate(name=name, location_label=location)
        )
        for cp_number in (1, 2):
            charge_point = await charge_points.create_charge_point(
                session,
                ctx,
                ChargePointCreate(
                    charging_group_id=group.group.id,
                    identity=f"DEMO-{site_number:02d}-{cp_number:02d}",
                    role=ChargePointRole.controller if cp_number == 1 else ChargePointRole.extender,
                ),
            )
            for connector_number in (1, 2):
                await connectors.create_connector(
                    session,
                    ctx,
                    ConnectorCreate(
                        charge_point_id=charge_point.charge_point.id,
                        connector_number=connector_number,
                        evse_id=evse_id(site_number, cp_number, connector_number),
                        plug_type=PlugType.type2,
                        max_power_kw=Decimal("11"),
                    ),
                )


async def _guests(session: AsyncSession, ctx: RequestContext, now: datetime) -> None:
    sites = await _charging_group_ids(session, ctx)
    group = await user_groups.create_user_group(
        session,
        ctx,
        UserGroupCreate(
            name=GUESTS,
            tariff=GUESTS_TARIFF,
            activation=ActivationInput(
                scope=ActivationScope.custom, charging_group_ids=[sites[name] for name in GUESTS_SITES]
            ),
        ),
    )
    await _in_force_since(session, ctx, group, now)
    group_id = group.group.id
    for card in (GUEST_CARD, GUEST_CARD_2):
        await cards.add_card(session, ctx, group_id, CardCreate(uid=card.uid, label=card.label))
    await cards.add_card(
        session, ctx, group_id, CardCreate(uid=BLOCKED_CARD.uid, label=BLOCKED_CARD.label, blocked=True)
    )
    await cards.add_card(
        session,
        ctx,
        group_id,
        CardCreate(
            uid=EXPIRED_CARD.uid,
            label=EXPIRED_CARD.label,
            valid_from=now - timedelta(days=10),
            valid_until=now - timedelta(days=3),
        ),
    )
    for demo_session in SESSIONS:
        await _session(session, ctx, demo_session, now)


async def _archived_group(session: AsyncSession, ctx: RequestContext, now: datetime) -> None:
    sites = await _charging_group_ids(session, ctx)
    group = await user_groups.create_user_group(
        session,
        ctx,
        UserGroupCreate(
            name=ARCHIVED,
            tariff=ARCHIVED_TARIFF,
            activation=ActivationInput(
                scope=ActivationScope.custom, charging_group_ids=[sites["Hotel entrance"]]
            ),
        ),
    )
    await _in_force_since(session, ctx, group, now)
    await cards.add_card(
        session, ctx, group.group.id, CardCreate(uid=ARCHIVED_CARD.uid, label=ARCHIVED_CARD.label)
    )
    # It was used, so it cannot be deleted: archived, it keeps its data and history.
    await _session(session, ctx, ARCHIVED_SESSION, now)
    await user_groups.archive_user_group(session, ctx, group.group.id)


async def _in_force_since(
    session: AsyncSession, ctx: RequestContext, group: user_groups.UserGroupDetail, now: datetime
) -> None:
    """Demo only: the sessions below happened days ago, and a session is documented with the
    tariff in force when it started; so the demo's tariff counts from a month before the run.
    Like every change, it is in the group's history."""
    assert group.tariff is not None
    group.tariff.valid_from = now - timedelta(days=TARIFF_DAYS_BEFORE)
    await audit.record(
        session, ctx, AuditAction.tariff_set, group.tariff, user_group_id=group.group.id,
        new={"note": "demo data: in force since a month before the demo's sessions"},
    )  # fmt: skip


async def _session(session: AsyncSession, ctx: RequestContext, demo: DemoSession, now: datetime) -> None:
    started_at = (now - timedelta(days=demo.days_ago)).replace(hour=9, minute=0, second=0, microsecond=0)
    started, _ = await sessions.start_session(
        session,
        ctx,
        SessionStart(
            transaction_id=demo.transaction_id,
            id_token=demo.card.uid,
            evse_id=demo.evse_id,
            meter_start_wh=0,
            started_at=started_at,
        ),
        cache_seconds=0,
    )
    await sessions.stop_session(
        session,
        ctx,
        started.id,
        SessionStop(meter_stop_wh=demo.energy_wh, stopped_at=started_at + timedelta(minutes=demo.minutes)),
    )


def authorize_command(base_url: str, key: str, uid: str = GUEST_CARD.uid, evse: str = GUEST_EVSE) -> str:
    body = f'{{"id_token": "{uid}", "evse_id": "{evse}"}}'
    return (
        f"curl -s -X POST {base_url}/v1/authorize \\\n"
        f'     -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\\n'
        f"     -d '{body}'"
    )


def summary(base_url: str, key: str) -> str:
    """What `ugs demo-data` prints: the key, a call to paste, and what to try next."""
    tries = "\n".join(
        f"  {card.uid}  {card.label:<26} -> {card.answer}"
        for card in (GUEST_CARD, GUEST_CARD_2, BLOCKED_CARD, EXPIRED_CARD, ARCHIVED_CARD)
    )
    return f"""
Demo organization: {ORGANIZATION}
Admin API key (shown once; each run makes a new one):
{key}

Once the server is up, ask whether guest card {GUEST_CARD.uid} may charge at {GUEST_EVSE}
(answer: "status": "Accepted"):

{authorize_command(base_url, key)}

Other cards to try as id_token (at {GUEST_EVSE}):
{tries}
  {UNKNOWN_UID}  {"(not registered)":<26} -> Invalid
Any card at {FREE_EVSE} (Staff car park, access control off) -> Accepted (free charging).
Sessions: curl -s -H "Authorization: Bearer {key}" {base_url}/v1/sessions
"""
