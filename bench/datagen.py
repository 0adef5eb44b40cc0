"""A synthetic but realistic organization, written straight into PostgreSQL (COPY) and SQLite.

The HTTP API is far too slow for a million rows, so the database is migrated with `ugs migrate` and
the rows are inserted directly, in the exact column types the models use:

* PostgreSQL: native uuid / timestamptz / numeric / json, `copy_records_to_table` per table.
* SQLite (what SQLAlchemy stores): UUIDs as 32 hex chars, datetimes as naive UTC
  'YYYY-MM-DD HH:MM:SS.ffffff', ExactDecimal as text, booleans as 0/1, JSON as text.

One deterministic model (seeded) feeds every target, so the PostgreSQL and SQLite databases of a
scale hold the same organization. Rows are emitted in creation-time order (as a live system would
have inserted them), secondary indexes are dropped before the load and rebuilt from their own
definitions afterwards, foreign keys are verified after the load, and PostgreSQL is VACUUM ANALYZEd
(what autovacuum would have done). SQLite gets no ANALYZE: the service never runs one.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.enums import ChargePointRole
from app.services.api_keys import generate_key, hash_key
from app.services.pricing import energy_kwh, session_cost
from app.tariff_description import describe_tariff

from bench.common import (
    BENCH_ADMIN_KEY_NAME,
    BENCH_INTEGRATION_KEY_NAME,
    GENERATOR_VERSION,
    PG_ADMIN_URL,
    ROOT,
    VENV_BIN,
    Sizes,
    database_url,
    db_name,
    log,
    pg_url,
    schema_fingerprint,
    sqlite_path,
    write_meta,
)

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_NAIVE = datetime(1970, 1, 1)
CHUNK = 20_000

# Column order and kind of every table, as in migrations/versions (kinds: uuid, ts, dec, json,
# bool, int, str). JSON values are emitted already serialized; None is JSON null, as the ORM stores it.
TABLES: dict[str, list[tuple[str, str]]] = {
    "organizations": [("name", "str"), ("id", "uuid"), ("created_at", "ts")],
    "api_keys": [
        ("organization_id", "uuid"),
        ("name", "str"),
        ("role", "str"),
        ("prefix", "str"),
        ("key_hash", "str"),
        ("revoked_at", "ts"),
        ("id", "uuid"),
        ("created_at", "ts"),
    ],
    "charging_groups": [
        ("organization_id", "uuid"),
        ("name", "str"),
        ("location_label", "str"),
        ("access_control", "bool"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
    ],
    "charge_points": [
        ("organization_id", "uuid"),
        ("charging_group_id", "uuid"),
        ("identity", "str"),
        ("role", "str"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
    ],
    "connectors": [
        ("organization_id", "uuid"),
        ("charge_point_id", "uuid"),
        ("connector_number", "int"),
        ("evse_id", "str"),
        ("plug_type", "str"),
        ("max_power_kw", "dec"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
    ],
    "user_groups": [
        ("organization_id", "uuid"),
        ("name", "str"),
        ("name_key", "str"),
        ("type", "str"),
        ("status", "str"),
        ("archived_at", "ts"),
        ("activation_scope", "str"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
    ],
    "tariff_versions": [
        ("organization_id", "uuid"),
        ("user_group_id", "uuid"),
        ("currency", "str"),
        ("price_per_kwh", "dec"),
        ("session_fee", "dec"),
        ("parking_fee_per_hour", "dec"),
        ("parking_grace_minutes", "int"),
        ("valid_from", "ts"),
        ("valid_until", "ts"),
        ("id", "uuid"),
        ("created_at", "ts"),
    ],
    "activations": [
        ("user_group_id", "uuid"),
        ("charging_group_id", "uuid"),
        ("organization_id", "uuid"),
        ("created_at", "ts"),
    ],
    "cards": [
        ("organization_id", "uuid"),
        ("user_group_id", "uuid"),
        ("uid", "str"),
        ("label", "str"),
        ("printed_number", "str"),
        ("valid_from", "ts"),
        ("valid_until", "ts"),
        ("blocked", "bool"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
        # What the OCPP local lists last published for the card (app/models/user_groups.py): its
        # own facts (the generator writes no guest rules, so no group window bounds them).
        ("listed_user_group_id", "uuid"),
        ("listed_blocked", "bool"),
        ("listed_valid_from", "ts"),
        ("listed_valid_until", "ts"),
    ],
    "charging_sessions": [
        ("organization_id", "uuid"),
        ("transaction_id", "str"),
        ("status", "str"),
        ("id_token", "str"),
        ("card_id", "uuid"),
        ("card_label", "str"),
        ("user_group_id", "uuid"),
        ("user_group_name", "str"),
        ("connector_id", "uuid"),
        ("evse_id", "str"),
        ("charging_group_id", "uuid"),
        ("charging_group_name", "str"),
        ("tariff_version_id", "uuid"),
        ("tariff_snapshot", "json"),
        ("tariff_description", "str"),
        ("decision_status", "str"),
        ("decision_reason", "str"),
        ("meter_start_wh", "int"),
        ("meter_stop_wh", "int"),
        ("started_at", "ts"),
        ("stopped_at", "ts"),
        ("energy_kwh", "dec"),
        ("cost", "dec"),
        ("currency", "str"),
        ("id", "uuid"),
        ("updated_at", "ts"),
        ("created_at", "ts"),
        ("version", "int"),
    ],
    "audit_events": [
        ("organization_id", "uuid"),
        ("actor_api_key_id", "uuid"),
        ("actor_name", "str"),
        ("action", "str"),
        ("entity_type", "str"),
        ("entity_id", "uuid"),
        ("user_group_id", "uuid"),
        ("old_values", "json"),
        ("new_values", "json"),
        ("request_id", "str"),
        ("created_at", "ts"),
        ("id", "uuid"),
    ],
}


# UIDs: a bijection of the card index, so they are unique without a set of a million strings.
# 4 in 5 are 7-byte UIDs (14 hex chars, MIFARE DESFire style), 1 in 5 4-byte UIDs (8 hex chars).
_MUL56, _ADD56, _MUL32, _ADD32 = 0x9E3779B97F4A7D, 0x5DEECE66D1234, 0x9E3779B1, 0x7F4A7C15


def card_uid(index: int) -> str:
    if index % 5 == 4:
        return f"{(index * _MUL32 + _ADD32) % (1 << 32):08X}"
    return f"{(index * _MUL56 + _ADD56) % (1 << 56):014X}"


def unknown_uid(index: int) -> str:
    """UIDs that no generated card has (indices far above any card count)."""
    return card_uid(2_000_000_000 + index * 5)


def _iso(us: int) -> str:
    return (EPOCH_AWARE + timedelta(microseconds=us)).isoformat()


def _dec_text(value: Decimal | None) -> str | None:
    """As app.services.audit.json_value writes a Decimal."""
    return None if value is None else format(value.normalize(), "f")


def _uuid_text(value: int) -> str:
    return str(uuid.UUID(int=value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


CITIES = [
    "Berlin",
    "München",
    "Hamburg",
    "Köln",
    "Zürich",
    "Wien",
    "Graz",
    "Basel",
    "Bremen",
    "Dresden",
    "Leipzig",
    "Bern",
    "Linz",
    "Mainz",
    "Kiel",
    "Ulm",
    "Essen",
    "Bonn",
    "Genève",
    "Salzburg",
]
SITE_KINDS = ["Hotel", "Office park", "Car park", "Clinic", "Campus", "Residence", "Retail park", "Depot"]
LOCATIONS = [
    "Level -1",
    "Level -2",
    "Front yard",
    "Car park P1",
    "Car park P2",
    "Courtyard",
    "Roof deck",
    None,
]
GROUP_KINDS = [
    "Hotel guests",
    "Staff",
    "Conference guests",
    "Fleet",
    "Visitors",
    "Residents",
    "Gäste Straße",
    "Partner company",
    "Contractors",
    "VIP",
]
PLUGS = [
    ("type2", Decimal("11")),
    ("type2", Decimal("22")),
    ("ccs2", Decimal("50")),
    ("ccs2", Decimal("150")),
]
PRICES = ["0.29", "0.35", "0.39", "0.42", "0.49", "0.00"]
ACTORS = ["Dashboard: Anna Weber", "Dashboard: Luca Rossi", "Dashboard: Mia Novak", "Fleet sync"]


def _split(total: int, parts: int, rng: random.Random, low: float = 0.2, high: float = 1.8) -> list[int]:
    """`total` split into `parts` positive counts that vary around the mean."""
    weights = [rng.uniform(low, high) for _ in range(parts)]
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    diff = total - sum(counts)
    while diff != 0:
        i = rng.randrange(parts)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


class Organization:
    """The whole organization, built in memory (ids as 128-bit ints, times as µs since the epoch)."""

    def __init__(self, sizes: Sizes, seed: int, now_us: int) -> None:
        self.sizes = sizes
        self.seed = seed
        self.now = now_us
        self.rng = random.Random(seed)
        self.org_id = self.new_id()
        self.keys: dict[str, dict[str, Any]] = {}

    def new_id(self) -> int:
        value = self.rng.getrandbits(128)
        value = (value & ~(0xF << 76)) | (4 << 76)
        return (value & ~(0x3 << 62)) | (0x2 << 62)

    def stamp(self, low: int, high: int) -> int:
        """A random µs time in [low, high]."""
        if high <= low:
            return low
        return low + int(self.rng.random() * (high - low))

    # Tables, in foreign-key order -------------------------------------------------------------

    def emit(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        yield "organizations", [("Bench Energy GmbH", self.org_id, self.now - 900 * DAY)]
        yield "api_keys", self._api_keys()
        yield from self._infrastructure()
        yield from self._user_groups()
        yield from self._cards()
        yield from self._sessions()
        yield from self._audit()

    def _api_keys(self) -> list[tuple[Any, ...]]:
        rows = []
        created = self.now - 890 * DAY
        specs = [
            (BENCH_ADMIN_KEY_NAME, "admin", None),
            (BENCH_INTEGRATION_KEY_NAME, "integration", None),
            ("CPMS (old)", "integration", self.now - 400 * DAY),
            ("Reporting", "viewer", None),
            *[(name, "operator", None) for name in ACTORS],
        ]
        self.actor_keys: list[tuple[int, str]] = []
        for name, role, revoked in specs:
            prefix, raw = generate_key()
            key_id = self.new_id()
            rows.append((self.org_id, name, role, prefix, hash_key(raw), revoked, key_id, created))
            if name in ACTORS:
                self.actor_keys.append((key_id, name))
            if name in (BENCH_ADMIN_KEY_NAME, BENCH_INTEGRATION_KEY_NAME):
                self.keys[role] = {"name": name, "key": raw, "prefix": prefix, "id": _uuid_text(key_id)}
            created += DAY
        return rows

    def _infrastructure(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        rng, s = self.rng, self.sizes
        n_cg = s.charging_groups
        created = sorted(self.stamp(self.now - 880 * DAY, self.now - 60 * DAY) for _ in range(n_cg))
        self.cg_id: list[int] = []
        self.cg_name: list[str] = []
        self.cg_access: list[bool] = []
        self.cg_created = created
        rows = []
        for i in range(n_cg):
            cg_id = self.new_id()
            name = f"{rng.choice(SITE_KINDS)} {rng.choice(CITIES)} {i + 1:05d}"
            access = rng.random() < 0.9
            self.cg_id.append(cg_id)
            self.cg_name.append(name)
            self.cg_access.append(access)
            version = 2 if access else 1  # access control switched on by an activation
            rows.append(
                (self.org_id, name, rng.choice(LOCATIONS), access, cg_id, created[i], created[i], version)
            )
        yield "charging_groups", rows

        counts = _split(s.connectors, n_cg, rng)
        cp_rows: list[tuple[Any, ...]] = []
        conn_rows: list[tuple[Any, ...]] = []
        self.conn_id: list[int] = []
        self.conn_evse: list[str] = []
        self.conn_cg: list[int] = []
        self.cg_connectors: list[list[int]] = [[] for _ in range(n_cg)]
        for i, count in enumerate(counts):
            n_cp = math.ceil(count / 2)
            remaining = count
            for c in range(n_cp):
                cp_id = self.new_id()
                cp_created = created[i] + c * MINUTE
                role = ChargePointRole.controller if c == 0 else ChargePointRole.extender
                identity = f"UGS-{i + 1:05d}-{c + 1:03d}"
                cp_rows.append(
                    (self.org_id, self.cg_id[i], identity, role.value, cp_id, cp_created, cp_created, 1)
                )
                for number in range(1, min(2, remaining) + 1):
                    plug, power = rng.choice(PLUGS)
                    conn_id = self.new_id()
                    evse = f"DE*UGS*E{i + 1:05d}{c + 1:03d}*{number}"
                    self.cg_connectors[i].append(len(self.conn_id))
                    self.conn_id.append(conn_id)
                    self.conn_evse.append(evse)
                    self.conn_cg.append(i)
                    conn_rows.append(
                        (self.org_id, cp_id, number, evse, plug, power, conn_id, cp_created, cp_created, 1)
                    )
                remaining -= min(2, remaining)
        yield "charge_points", cp_rows
        for start in range(0, len(conn_rows), CHUNK):
            yield "connectors", conn_rows[start : start + CHUNK]

    def _user_groups(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        rng, s = self.rng, self.sizes
        n = s.user_groups
        created = sorted(self.stamp(self.now - 730 * DAY, self.now - 10 * DAY) for _ in range(n))
        access_cgs = [i for i in range(s.charging_groups) if self.cg_access[i]] or list(
            range(s.charging_groups)
        )
        self.ug_id: list[int] = []
        self.ug_name: list[str] = []
        self.ug_created = created
        self.ug_archived_at: list[int | None] = []
        self.ug_scope: list[str] = []
        self.ug_activations: list[list[int]] = []
        self.ug_tariffs: list[list[int]] = []  # indices into self.tv_*
        self.tv_id: list[int] = []
        self.tv_from: list[int] = []
        self.tv_snapshot: list[str] = []  # the JSON a session copies
        self.tv_description: list[str | None] = []  # and its text, as the model's default writes it
        self.tv_fields: list[dict[str, Any]] = []
        ug_rows, tv_rows, act_rows = [], [], []
        for i in range(n):
            ug_id = self.new_id()
            name = f"{rng.choice(GROUP_KINDS)} {rng.choice(CITIES)} {i + 1:05d}"
            archived_at = None
            if rng.random() < 0.02:
                archived_at = self.stamp(created[i] + DAY, self.now - DAY)
            scope = "all" if rng.random() < 0.10 else "custom"
            activations: list[int] = []
            if scope == "custom" and rng.random() >= 0.05:
                k = rng.randint(1, 3) if rng.random() < 0.75 else rng.randint(4, 10)
                activations = rng.sample(access_cgs, min(k, len(access_cgs)))
            self.ug_id.append(ug_id)
            self.ug_name.append(name)
            self.ug_archived_at.append(archived_at)
            self.ug_scope.append(scope)
            self.ug_activations.append(activations)
            status = "archived" if archived_at is not None else "active"
            updated = archived_at or created[i]
            version = 2 if archived_at is not None else 1
            ug_rows.append(
                (
                    self.org_id,
                    name,
                    name.casefold(),
                    "cards_only",
                    status,
                    archived_at,
                    scope,
                    ug_id,
                    updated,
                    created[i],
                    version,
                )
            )
            for cg in activations:
                act_rows.append((ug_id, self.cg_id[cg], self.org_id, max(created[i], self.cg_created[cg])))
            self.ug_tariffs.append([])
            if rng.random() < 0.95:
                n_versions = 1 if rng.random() < 0.7 else rng.randint(2, 3)
                starts = [
                    created[i],
                    *sorted(self.stamp(created[i] + DAY, self.now - 2 * DAY) for _ in range(n_versions - 1)),
                ]
                for v, valid_from in enumerate(starts):
                    valid_until = starts[v + 1] if v + 1 < len(starts) else None
                    tv_rows.append(self._tariff_version(i, ug_id, valid_from, valid_until))
        yield "user_groups", ug_rows
        yield "tariff_versions", tv_rows
        yield "activations", act_rows

    def _tariff_version(
        self, group: int, ug_id: int, valid_from: int, valid_until: int | None
    ) -> tuple[Any, ...]:
        rng = self.rng
        currency = "EUR" if rng.random() < 0.9 else rng.choice(["CHF", "GBP"])
        price = Decimal(rng.choice(PRICES))
        session_fee = Decimal(rng.choice(["0.50", "1.00"])) if rng.random() < 0.3 else None
        parking = Decimal(rng.choice(["1.50", "3.00"])) if rng.random() < 0.2 else None
        grace = rng.choice([0, 60, 120, 240]) if parking is not None else None
        tv_id = self.new_id()
        fields = {
            "currency": currency,
            "price_per_kwh": _dec_text(price),
            "session_fee": _dec_text(session_fee),
            "parking_fee_per_hour": _dec_text(parking),
            "parking_grace_minutes": grace,
        }
        self.ug_tariffs[group].append(len(self.tv_id))
        self.tv_id.append(tv_id)
        self.tv_from.append(valid_from)
        self.tv_fields.append(fields)
        self.tv_snapshot.append(_json({**fields, "valid_from": _iso(valid_from)}))
        self.tv_description.append(describe_tariff(json.loads(self.tv_snapshot[-1])))
        return (
            self.org_id,
            ug_id,
            currency,
            price,
            session_fee,
            parking,
            grace,
            valid_from,
            valid_until,
            tv_id,
            valid_from,
        )

    def _cards(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        rng, s, now = self.rng, self.sizes, self.now
        counts = _split(s.cards, s.user_groups, rng, 0.3, 1.7)
        specs: list[tuple[int, int, int]] = []  # (created, group, batch flag)
        self.ug_batch_at: list[int] = []
        for g, count in enumerate(counts):
            start = self.ug_created[g]
            batch_at = self.stamp(start + MINUTE, min(start + 10 * DAY, now - 3 * DAY))
            self.ug_batch_at.append(batch_at)
            for _ in range(count):
                if rng.random() < 0.7:
                    specs.append((batch_at, g, 1))  # the initial bulk import: one timestamp
                else:
                    specs.append((self.stamp(batch_at, now - 2 * DAY), g, 0))
        specs.sort()
        n = len(specs)
        self.card_id: list[int] = [0] * n
        self.card_uid: list[str] = [""] * n
        self.card_label: list[str | None] = [None] * n
        self.card_group: list[int] = [0] * n
        self.card_created: list[int] = [0] * n
        self.card_blocked: list[bool] = [False] * n
        self.card_from: list[int | None] = [None] * n
        self.card_until: list[int | None] = [None] * n
        self.ug_cards: list[list[int]] = [[] for _ in range(s.user_groups)]
        self.ug_batch_cards: list[list[int]] = [[] for _ in range(s.user_groups)]
        rows: list[tuple[Any, ...]] = []
        for j, (created, g, batch) in enumerate(specs):
            card_id = self.new_id()
            uid = card_uid(j)
            r = rng.random()
            label = (
                f"Room {rng.randint(1, 999)}" if r < 0.35 else f"Guest {j % 10_000:04d}" if r < 0.6 else None
            )
            printed = f"{rng.randrange(10**9):09d}" if rng.random() < 0.4 else None
            valid_from = valid_until = None
            blocked = False
            r = rng.random()
            if r < 0.03:
                blocked = True
            elif r < 0.06:  # expired
                valid_until = self.stamp(max(created + DAY, now - 300 * DAY), now - DAY)
                valid_from = created if rng.random() < 0.5 else None
            elif r < 0.07:  # not valid yet
                valid_from = self.stamp(now + 30 * DAY, now + 700 * DAY)
            elif r < 0.19:  # valid until some time in the future
                valid_until = self.stamp(now + 60 * DAY, now + 1000 * DAY)
            elif r < 0.34:
                valid_from = created
            self.card_id[j] = card_id
            self.card_uid[j] = uid
            self.card_label[j] = label
            self.card_group[j] = g
            self.card_created[j] = created
            self.card_blocked[j] = blocked
            self.card_from[j] = valid_from
            self.card_until[j] = valid_until
            self.ug_cards[g].append(j)
            if batch:
                self.ug_batch_cards[g].append(j)
            version = 2 if blocked else 1
            updated = created + HOUR if blocked else created
            rows.append(
                (
                    self.org_id,
                    self.ug_id[g],
                    uid,
                    label,
                    printed,
                    valid_from,
                    valid_until,
                    blocked,
                    card_id,
                    updated,
                    created,
                    version,
                    self.ug_id[g],
                    blocked,
                    valid_from,
                    valid_until,
                )
            )
            if len(rows) >= CHUNK:
                yield "cards", rows
                rows = []
        if rows:
            yield "cards", rows

    def _decide(self, card: int, cg: int, at: int) -> tuple[str, str]:
        """The decision table of app.services.policy.decide, at `at`."""
        if not self.cg_access[cg]:
            return "Accepted", "free_charging"
        if self.card_blocked[card]:
            return "Blocked", "card_blocked"
        valid_from, valid_until = self.card_from[card], self.card_until[card]
        if valid_from is not None and at < valid_from:
            return "Expired", "card_not_yet_valid"
        if valid_until is not None and at >= valid_until:
            return "Expired", "card_expired"
        g = self.card_group[card]
        archived_at = self.ug_archived_at[g]
        if archived_at is not None and at >= archived_at:
            return "Invalid", "group_archived"
        if self.ug_scope[g] != "all" and cg not in self.ug_activations[g]:
            return "NotAtThisLocation", "not_at_this_location"
        return "Accepted", "accepted"

    def _sessions(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        rng, s, now = self.rng, self.sizes, self.now
        n_cards, n_conn = len(self.card_id), len(self.conn_id)
        plan: list[tuple[int, int, int, int]] = []  # (started, card or -1, connector, active flag)
        for _ in range(s.sessions):
            card = rng.randrange(n_cards) if rng.random() >= 0.01 else -1
            low = now - 365 * DAY if card < 0 else max(self.card_created[card] + HOUR, now - 365 * DAY)
            active = rng.random() < 0.005
            started = self.stamp(now - 10 * HOUR, now - MINUTE) if active else self.stamp(low, now - HOUR)
            conn = rng.randrange(n_conn)
            if card >= 0:
                activations = self.ug_activations[self.card_group[card]]
                if activations and rng.random() < 0.97:
                    connectors = self.cg_connectors[rng.choice(activations)]
                    conn = connectors[rng.randrange(len(connectors))]
            plan.append((started, card, conn, 1 if active else 0))
        plan.sort()
        rows: list[tuple[Any, ...]] = []
        for k, (started, card, conn, still_active) in enumerate(plan):
            cg = self.conn_cg[conn]
            meter_start = rng.randrange(50_000_000)
            if card < 0:
                token, card_id, card_label, group_id, group_name = unknown_uid(k), None, None, None, None
                decision, reason, tv = "Invalid", "unknown_card", -1
            else:
                g = self.card_group[card]
                token, card_id, card_label = self.card_uid[card], self.card_id[card], self.card_label[card]
                group_id, group_name = self.ug_id[g], self.ug_name[g]
                decision, reason = self._decide(card, cg, started)
                tv = -1
                versions = self.ug_tariffs[g]
                if versions:
                    pos = bisect.bisect_right([self.tv_from[v] for v in versions], started) - 1
                    tv = versions[pos] if pos >= 0 else -1
            tariff_id = self.tv_id[tv] if tv >= 0 else None
            snapshot = self.tv_snapshot[tv] if tv >= 0 else "null"
            description = self.tv_description[tv] if tv >= 0 else None
            currency = self.tv_fields[tv]["currency"] if tv >= 0 else None
            if still_active:
                status, version, updated = "active", 1, started
                stopped = meter_stop = energy = cost = None
            else:
                status, version = "completed", 2
                stopped = started + rng.randint(20 * MINUTE, 10 * HOUR)
                meter_stop = meter_start + rng.randint(1_000, 60_000)
                energy = energy_kwh(meter_start, meter_stop)
                cost = None
                if tv >= 0:
                    cost = session_cost(
                        self.tv_fields[tv],
                        energy,
                        EPOCH_AWARE + timedelta(microseconds=started),
                        EPOCH_AWARE + timedelta(microseconds=stopped),
                    )
                updated = stopped
            rows.append(
                (
                    self.org_id,
                    f"TX{k + 1:010d}",
                    status,
                    token,
                    card_id,
                    card_label,
                    group_id,
                    group_name,
                    self.conn_id[conn],
                    self.conn_evse[conn],
                    self.cg_id[cg],
                    self.cg_name[cg],
                    tariff_id,
                    snapshot,
                    description,
                    decision,
                    reason,
                    meter_start,
                    meter_stop,
                    started,
                    stopped,
                    energy,
                    cost,
                    currency,
                    self.new_id(),
                    updated,
                    started,
                    version,
                )
            )
            if len(rows) >= CHUNK:
                yield "charging_sessions", rows
                rows = []
        if rows:
            yield "charging_sessions", rows

    def _audit(self) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        rng, s, now = self.rng, self.sizes, self.now
        events: list[tuple[Any, ...]] = []  # (created, actor, action, entity_type, entity, group, old, new)

        def add(at: int, action: str, etype: str, entity: int, group: int | None, old: Any, new: Any) -> None:
            actor = rng.choice(self.actor_keys)
            events.append(
                (at, actor, action, etype, entity, None if group is None else self.ug_id[group], old, new)
            )

        for g in range(s.user_groups):
            name = self.ug_name[g]
            versions = self.ug_tariffs[g]
            first = self.tv_fields[versions[0]] if versions else None
            activated = [
                {"id": _uuid_text(self.cg_id[cg]), "name": self.cg_name[cg]} for cg in self.ug_activations[g]
            ]
            add(
                self.ug_created[g],
                "user_group.created",
                "user_group",
                self.ug_id[g],
                g,
                None,
                {
                    "name": name,
                    "type": "cards_only",
                    "tariff": first,
                    "activation_scope": self.ug_scope[g],
                    "charging_groups": activated,
                },
            )
            batch = self.ug_batch_cards[g]
            if batch:
                add(
                    self.ug_batch_at[g],
                    "cards.bulk_added",
                    "user_group",
                    self.ug_id[g],
                    g,
                    None,
                    {
                        "user_group_name": name,
                        "count": len(batch),
                        "cards": [{"uid": self.card_uid[j], "label": self.card_label[j]} for j in batch],
                    },
                )
            for previous, v in itertools.pairwise(versions):
                add(
                    self.tv_from[v],
                    "tariff.set",
                    "tariff",
                    self.tv_id[v],
                    g,
                    self.tv_fields[previous],
                    {**self.tv_fields[v], "user_group_name": name},
                )
            archived_at = self.ug_archived_at[g]
            if archived_at is not None:
                add(
                    archived_at,
                    "user_group.archived",
                    "user_group",
                    self.ug_id[g],
                    g,
                    {"name": name, "status": "active"},
                    {"name": name, "status": "archived"},
                )
        # The rest: everyday changes, a few groups much busier than most (heavy-tailed), and some
        # infrastructure changes that belong to no user group.
        weights = [min(rng.paretovariate(1.3), 200.0) for _ in range(s.user_groups)]
        extra = max(0, s.audit_events - len(events))
        groups = rng.choices(range(s.user_groups), weights=weights, k=extra)
        for g in groups:
            at = self.stamp(self.ug_created[g] + HOUR, now - HOUR)
            cards = self.ug_cards[g]
            r = rng.random()
            if r < 0.05:
                cg = rng.randrange(s.charging_groups)
                add(
                    at,
                    "charging_group.updated",
                    "charging_group",
                    self.cg_id[cg],
                    None,
                    {"location_label": rng.choice(LOCATIONS)},
                    {"location_label": rng.choice(LOCATIONS)},
                )
            elif r < 0.45 and cards:
                j = rng.choice(cards)
                add(
                    at,
                    "card.updated",
                    "card",
                    self.card_id[j],
                    g,
                    {"blocked": False, "uid": self.card_uid[j]},
                    {"blocked": True, "uid": self.card_uid[j], "label": self.card_label[j]},
                )
            elif r < 0.65 and cards:
                j = rng.choice(cards)
                add(
                    at,
                    "card.added",
                    "card",
                    self.card_id[j],
                    g,
                    None,
                    {
                        "uid": self.card_uid[j],
                        "label": self.card_label[j],
                        "printed_number": None,
                        "valid_from": None,
                        "valid_until": None,
                        "blocked": False,
                        "user_group_name": self.ug_name[g],
                    },
                )
            elif r < 0.75:
                add(
                    at,
                    "card.removed",
                    "card",
                    self.new_id(),
                    g,
                    None,
                    {
                        "uid": unknown_uid(rng.randrange(10**6)),
                        "label": None,
                        "printed_number": None,
                        "valid_from": None,
                        "valid_until": None,
                        "blocked": False,
                    },
                )
            elif r < 0.80:
                add(
                    at,
                    "user_group.renamed",
                    "user_group",
                    self.ug_id[g],
                    g,
                    {"name": self.ug_name[g] + " (old)"},
                    {"name": self.ug_name[g]},
                )
            else:
                cg = rng.randrange(s.charging_groups)
                action = "activation.added" if r < 0.92 else "activation.removed"
                add(
                    at,
                    action,
                    "user_group",
                    self.ug_id[g],
                    g,
                    None,
                    {"charging_group": {"id": _uuid_text(self.cg_id[cg]), "name": self.cg_name[cg]}},
                )
        events.sort(key=lambda event: event[0])
        rows: list[tuple[Any, ...]] = []
        for at, (actor_id, actor_name), action, etype, entity, group_id, old, new in events:
            rows.append(
                (
                    self.org_id,
                    actor_id,
                    actor_name,
                    action,
                    etype,
                    entity,
                    group_id,
                    _json(old),
                    _json(new),
                    f"{rng.getrandbits(128):032x}",
                    at,
                    self.new_id(),
                )
            )
            if len(rows) >= CHUNK:
                yield "audit_events", rows
                rows = []
        if rows:
            yield "audit_events", rows


# Converters -------------------------------------------------------------------------------------


def _pg_ts(us: int | None) -> datetime | None:
    return None if us is None else EPOCH_AWARE + timedelta(microseconds=us)


def _pg_uuid(value: int | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(int=value)


def _sqlite_ts(us: int | None) -> str | None:
    return None if us is None else (EPOCH_NAIVE + timedelta(microseconds=us)).isoformat(" ", "microseconds")


def _sqlite_uuid(value: int | None) -> str | None:
    return None if value is None else f"{value:032x}"


def _sqlite_dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sqlite_bool(value: bool) -> int:
    return 1 if value else 0


CONVERTERS: dict[str, dict[str, Callable[[Any], Any] | None]] = {
    "pg": {"uuid": _pg_uuid, "ts": _pg_ts, "dec": None, "json": None, "bool": None, "int": None, "str": None},
    "sqlite": {
        "uuid": _sqlite_uuid,
        "ts": _sqlite_ts,
        "dec": _sqlite_dec,
        "json": None,
        "bool": _sqlite_bool,
        "int": None,
        "str": None,
    },
}


def row_converter(target: str, table: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A compiled `row -> row` for one table: a single tuple expression, no per-field loop."""
    namespace: dict[str, Any] = {}
    parts = []
    for i, (_, kind) in enumerate(TABLES[table]):
        function = CONVERTERS[target][kind]
        if function is None:
            parts.append(f"r[{i}]")
        else:
            namespace[f"f{i}"] = function
            parts.append(f"f{i}(r[{i}])")
    source = f"lambda r: ({', '.join(parts)},)"
    converter: Callable[[tuple[Any, ...]], tuple[Any, ...]] = eval(source, namespace)  # noqa: S307
    return converter


# Targets ---------------------------------------------------------------------------------------


# The organization's infrastructure counters, as the service keeps them (migration 0003).
COUNTERS_SQL = (
    "UPDATE organizations SET "
    "charging_group_count = (SELECT count(*) FROM charging_groups "
    "WHERE charging_groups.organization_id = organizations.id), "
    "connector_count = (SELECT count(*) FROM connectors WHERE connectors.organization_id = organizations.id)"
)
CHARGING_GROUP_COUNTERS_SQL = (
    "UPDATE charging_groups SET connector_count = (SELECT count(*) FROM connectors "
    "JOIN charge_points ON charge_points.id = connectors.charge_point_id "
    "WHERE charge_points.charging_group_id = charging_groups.id)"
)
# The counts the database keeps per user group (migration 0014). PostgreSQL loads with its
# triggers off (session_replication_role), so they are counted once after the load, as the
# migration counts existing rows; SQLite's triggers count while it loads.
USER_GROUP_COUNTS_SQL = (
    "INSERT INTO user_group_counts (user_group_id, card_count, session_count) SELECT g.id, "
    "(SELECT count(*) FROM cards c WHERE c.user_group_id = g.id), "
    "(SELECT count(*) FROM charging_sessions s WHERE s.user_group_id = g.id) FROM user_groups g"
)


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(VENV_BIN / "ugs"), "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)


class SqliteTarget:
    kind = "sqlite"

    def __init__(self, scale: float) -> None:
        self.path = sqlite_path(scale)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            candidate = self.path.with_name(self.path.name + suffix)
            if candidate.exists():
                candidate.unlink()
        migrate(database_url("sqlite", scale))
        self.con = sqlite3.connect(self.path, isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=OFF",
            "PRAGMA cache_size=-1048576",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA foreign_keys=OFF",
        ):
            self.con.execute(pragma)
        self.indexes = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name != 'alembic_version'"
        ).fetchall()
        for name, _ in self.indexes:
            self.con.execute(f'DROP INDEX "{name}"')
        self.converters = {table: row_converter("sqlite", table) for table in TABLES}
        self.sql = {
            table: f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})"
            for table, cols in TABLES.items()
        }
        self.seconds: dict[str, float] = {}
        self.con.execute("BEGIN")

    def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        convert = self.converters[table]
        self.con.executemany(self.sql[table], [convert(row) for row in rows])
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started

    def finish(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.con.execute(COUNTERS_SQL)
        self.con.execute(CHARGING_GROUP_COUNTERS_SQL)
        self.con.execute("COMMIT")
        for _, sql in self.indexes:
            self.con.execute(sql)
        self.seconds["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        violations = self.con.execute("PRAGMA foreign_key_check").fetchmany(10)
        if violations:
            raise RuntimeError(f"foreign key violations in the generated SQLite data: {violations}")
        self.seconds["verify"] = time.perf_counter() - started
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.con.close()
        return {"seconds": self.seconds, "bytes": self.path.stat().st_size}


class PgTarget:
    kind = "pg"

    def __init__(self, scale: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.name = db_name(scale)
        self.url = pg_url(scale)
        self.loop.run_until_complete(self._recreate())
        migrate(self.url)
        self.conn = self.loop.run_until_complete(self._open())
        self.converters = {table: row_converter("pg", table) for table in TABLES}
        self.columns = {table: [c for c, _ in cols] for table, cols in TABLES.items()}
        self.seconds: dict[str, float] = {}

    async def _recreate(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def _open(self) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        # Foreign keys are checked after the load, in one anti-join per key (RI triggers per row
        # would triple the load time); CHECK and UNIQUE constraints stay on during COPY.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        self.indexes = await conn.fetch(
            """
            SELECT ci.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
            FROM pg_index i
            JOIN pg_class ci ON ci.oid = i.indexrelid
            JOIN pg_class ct ON ct.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = ct.relnamespace
            WHERE n.nspname = 'public' AND ct.relname <> 'alembic_version'
              AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
              )
            """
        )
        for row in self.indexes:
            await conn.execute(f'DROP INDEX "{row["name"]}"')
        return conn

    def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        convert = self.converters[table]
        records = [convert(row) for row in rows]
        self.loop.run_until_complete(
            self.conn.copy_records_to_table(table, records=records, columns=self.columns[table])
        )
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - started

    def finish(self) -> dict[str, Any]:
        return self.loop.run_until_complete(self._finish())

    async def _finish(self) -> dict[str, Any]:
        conn = self.conn
        started = time.perf_counter()
        for row in self.indexes:
            await conn.execute(row["definition"])
        self.seconds["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("RESET session_replication_role")
        await conn.execute(COUNTERS_SQL)
        await conn.execute(CHARGING_GROUP_COUNTERS_SQL)
        await conn.execute(USER_GROUP_COUNTS_SQL)
        keys = await conn.fetch(
            """
            SELECT k.conname, ct.relname AS child, ac.attname AS child_col, cp.relname AS parent,
                   ap.attname AS parent_col
            FROM pg_constraint k
            JOIN pg_class ct ON ct.oid = k.conrelid
            JOIN pg_class cp ON cp.oid = k.confrelid
            JOIN pg_attribute ac ON ac.attrelid = k.conrelid AND ac.attnum = k.conkey[1]
            JOIN pg_attribute ap ON ap.attrelid = k.confrelid AND ap.attnum = k.confkey[1]
            WHERE k.contype = 'f' AND cardinality(k.conkey) = 1
            """
        )
        for key in keys:
            missing = await conn.fetchval(
                f'SELECT count(*) FROM "{key["child"]}" c WHERE c."{key["child_col"]}" IS NOT NULL '
                f'AND NOT EXISTS (SELECT 1 FROM "{key["parent"]}" p WHERE p."{key["parent_col"]}" = '
                f'c."{key["child_col"]}")'
            )
            if missing:
                raise RuntimeError(f"{missing} rows violate {key['conname']} in the generated data")
        self.seconds["verify"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        self.seconds["vacuum_analyze"] = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        await conn.close()
        return {"seconds": self.seconds, "bytes": size}


def generate(scale: float, kinds: Sequence[str], sizes: Sizes, seed: int = 20261125) -> None:
    """Builds the organization of `scale` into every target in `kinds`.

    One process per target, in parallel: the model is deterministic (seeded), so each process builds
    the same organization and the two databases hold the same rows (only the bench API keys differ).
    """
    now_us = int(time.time()) * US
    if len(kinds) == 1:
        generate_one(scale, kinds[0], sizes, seed, now_us)
        return
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.datagen",
                str(scale),
                kind,
                "--seed",
                str(seed),
                "--now",
                str(now_us),
            ],
            cwd=ROOT,
        )
        for kind in kinds
    ]
    codes = [process.wait() for process in processes]
    if any(codes):
        raise RuntimeError(f"data generation failed (exit codes {codes})")


def generate_one(scale: float, kind: str, sizes: Sizes, seed: int, now_us: int) -> None:
    started = time.perf_counter()
    target: SqliteTarget | PgTarget = PgTarget(scale) if kind == "pg" else SqliteTarget(scale)
    prepared = time.perf_counter() - started
    model = Organization(sizes, seed, now_us)
    counts: dict[str, int] = {}
    build_seconds: dict[str, float] = {}
    stream = model.emit()
    while True:
        tick = time.perf_counter()
        try:
            table, rows = next(stream)
        except StopIteration:
            break
        build_seconds[table] = build_seconds.get(table, 0.0) + time.perf_counter() - tick
        counts[table] = counts.get(table, 0) + len(rows)
        target.write(table, rows)
    outcome = target.finish()
    total = time.perf_counter() - started
    meta = {
        "kind": kind,
        "scale": scale,
        "sizes": sizes.as_dict(),
        "rows": counts,
        "seed": seed,
        "generated_at": datetime.fromtimestamp(now_us / US, UTC).isoformat(),
        "generator_version": GENERATOR_VERSION,
        "schema_fingerprint": schema_fingerprint(),
        "database_url": database_url(kind, scale),
        "seconds_total": round(total, 1),
        "seconds_migrate": round(prepared, 1),
        "seconds_build_python": {k: round(v, 2) for k, v in build_seconds.items()},
        "seconds_write": {k: round(v, 2) for k, v in outcome["seconds"].items()},
        "database_bytes": outcome["bytes"],
        "keys": model.keys,
        "organization_id": _uuid_text(model.org_id),
    }
    write_meta(kind, scale, meta)
    log(
        f"{kind} {db_name(scale)}: generated in {total:.0f} s "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())})"
    )


if __name__ == "__main__":  # python -m bench.datagen SCALE KIND [KIND] [--seed N] [--now US]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.datagen")
    parser.add_argument("scale", type=float)
    parser.add_argument("kinds", nargs="*", default=["pg", "sqlite"])
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--now", type=int, help="µs since the epoch all times are relative to")
    arguments = parser.parse_args()
    chosen = Sizes.for_scale(arguments.scale)
    if arguments.now is not None and len(arguments.kinds) == 1:
        generate_one(arguments.scale, arguments.kinds[0], chosen, arguments.seed, arguments.now)
    else:
        generate(arguments.scale, arguments.kinds, chosen, arguments.seed)
