"""The sessions CSV export (rendered by the database: app/repositories/session_export.py) is byte for
byte the file the former Python writer produced from the ORM rows (`reference_csv` below keeps it):
formula cells, quotes, control characters, unicode, NULLs, amounts in the currency's minor units,
times in UTC; with the filters, across batches, and a failure mid-stream is not a complete file.
The tariff column is the description written with the session (`tariff_description`): the
reference writes it from the session's tariff copy, as the former writer did."""

import asyncio
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, null, select, text, update

from app.csv_cells import Cell, CsvWriter
from app.currencies import amount_text
from app.db.database import Database, UnitOfWork
from app.enums import Role
from app.models import ChargingSession
from app.models.base import AUDITED_BULK
from app.repositories import session_export as session_export_repository
from app.repositories.sessions import SessionFilters
from app.services import session_export
from app.services.context import RequestContext
from app.tariff_description import describe_tariff
from tests.factories import Org, add_card, create_user_group, make_site, ok, stop

# The export's columns as the Python writer wrote them before the database rendered them.
REFERENCE: dict[str, Callable[[ChargingSession], Cell]] = {
    "session_id": lambda s: s.id,
    "transaction_id": lambda s: s.transaction_id,
    "user_group": lambda s: s.user_group_name,
    "card_uid": lambda s: s.id_token,
    "card_label": lambda s: s.card_label,
    "charging_group": lambda s: s.charging_group_name,
    "evse_id": lambda s: s.evse_id,
    "started_at": lambda s: s.started_at,
    "stopped_at": lambda s: s.stopped_at,
    "energy_kwh": lambda s: None if s.energy_kwh is None else s.energy_kwh.normalize(),
    "cost": lambda s: None if s.cost is None else Decimal(amount_text(s.cost, s.currency)),
    "currency": lambda s: s.currency,
    "tariff": lambda s: describe_tariff(s.tariff_snapshot),
    "decision": lambda s: s.decision_status,
}


def _run(client: TestClient, work: Callable[[Any], Any]) -> Any:
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def run() -> Any:
        async with UnitOfWork(db) as session:
            return await work(session)

    assert client.portal is not None
    return client.portal.call(run)


def reference_csv(client: TestClient, org: Org, **where: Any) -> bytes:
    async def read(session: Any) -> list[ChargingSession]:
        statement = (
            select(ChargingSession)
            .where(ChargingSession.organization_id == org.id)
            .filter_by(**where)
            .order_by(ChargingSession.created_at, ChargingSession.id)
        )
        return list((await session.execute(statement)).scalars())

    writer = CsvWriter()
    writer.writerow(REFERENCE)
    for charging_session in _run(client, read):
        writer.writerow(cell(charging_session) for cell in REFERENCE.values())
    return writer.take().encode()


def _session(client: TestClient, org: Org, uid: str, connector_id: str, started: datetime, tx: str) -> str:
    body = {
        "transaction_id": tx,
        "id_token": uid,
        "connector_id": connector_id,
        "meter_start_wh": 1_000,
        "started_at": started.isoformat(),
    }
    created = ok(client.post("/v1/sessions", json=body, headers=org.auth(Role.integration)), 201)
    return str(created["id"])


def _edit(client: TestClient, session_id: str | None, tx: str | None = None, **values: Any) -> None:
    async def work(session: Any) -> None:
        statement = update(ChargingSession).where(
            ChargingSession.id == uuid.UUID(session_id)
            if session_id
            else ChargingSession.transaction_id == tx
        )
        # Rows as older code or another writer may have stored them: not a change through the API.
        # A copy is written with its description, as every insert writes it (the column's default).
        if "tariff_snapshot" in values:
            copy = values["tariff_snapshot"]
            values["tariff_description"] = describe_tariff(copy if isinstance(copy, dict) else None)
        await session.execute(statement.values(**values).execution_options(**{AUDITED_BULK: True}))

    _run(client, work)


@pytest.fixture
def sessions(client: TestClient, org: Org) -> dict[str, Any]:
    """Sessions with every kind of cell: tariffs in EUR (fees, parking), JPY and KWD, none; formula
    texts, quotes, unicode; running and stopped; an unknown card."""
    site = make_site(client, org, connectors=1)
    connector = site["connectors"][0]["id"]
    activation = {"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    tariffs: list[dict[str, Any] | None] = [
        {"currency": "EUR", "price_per_kwh": "0.3", "session_fee": "1", "parking_fee_per_hour": "2.5",
         "parking_grace_minutes": 15},
        {"currency": "JPY", "price_per_kwh": "30"},
        {"currency": "KWD", "price_per_kwh": "0.1255", "parking_fee_per_hour": "1"},
        None,
    ]  # fmt: skip
    names = ['=HYPERLINK("x") Grüße', "-minus 'quote'", '"Quoted, with comma"', "Ünïcödé 🚗 €"]
    labels = ["@label", "'=already quoted", 'say "hi"', None]
    uids = []
    for n, (tariff, name, label) in enumerate(zip(tariffs, names, labels, strict=True)):
        extra = {"tariff": tariff} if tariff else {}
        group = create_user_group(client, org, name=f"{name} {n}", activation=activation, **extra)
        uids.append(f"EXP{n}{uuid.uuid4().hex[:6].upper()}")
        add_card(client, org, group["id"], uids[-1], **({"label": label} if label else {}))
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # the tariffs are in force
    ids = []
    for n, uid in enumerate(uids):
        started = t0 + timedelta(seconds=n, microseconds=123_456 * (n % 2))
        ids.append(_session(client, org, uid, connector, started, f"+tx-{n}-{uuid.uuid4().hex[:6]}"))
        if n != 3:  # the free one keeps running
            ok(stop(client, org, ids[-1], 1_000 + 7_500 * (n + 1), started + timedelta(minutes=50)))
    unknown = _session(
        client, org, "=1+1", connector, t0 + timedelta(seconds=5), f"@unknown-{uuid.uuid4().hex}"
    )
    ids.append(unknown)
    return {"ids": ids, "connector": connector, "site": site, "t0": t0}


def export(client: TestClient, org: Org, **params: Any) -> bytes:
    response = client.get("/v1/sessions/export.csv", params=params, headers=org.auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    content: bytes = response.content
    return content


def test_the_export_is_the_python_writers_file(
    client: TestClient, org: Org, sessions: dict[str, Any]
) -> None:
    expected = reference_csv(client, org)
    assert expected.count(b"\r\n") == 6  # header and five sessions
    assert export(client, org) == expected
    for cell in (
        b'"\'=HYPERLINK(""x"") Gr\xc3\xbc\xc3\x9fe 0"',
        b"\"'+tx-0-",
        b'"EUR 0.30/kWh + 1.00/session',
    ):
        assert cell in expected


def test_stored_cells_the_api_would_refuse_are_written_alike(
    client: TestClient, org: Org, sessions: dict[str, Any]
) -> None:
    """Control characters, backslashes, CR and tab triggers, zeros and round amounts, a tariff copy
    that is an empty object, JSON null or SQL NULL, whole and fractional seconds."""
    first, second, third, fourth, unknown = sessions["ids"]
    _edit(client, first, card_label="line1\nline2\r\n\tx \\ back\\slash\\n \\\\", user_group_name="\r=cr",
          energy_kwh=Decimal("10.000000"), cost=Decimal("100"), transaction_id="\t=tab")  # fmt: skip
    _edit(client, second, energy_kwh=Decimal("0"), cost=Decimal("308.000000"), tariff_snapshot={})
    later = sessions["t0"] + timedelta(days=1, microseconds=1)
    _edit(client, third, cost=Decimal("1.5"), stopped_at=later)
    _edit(client, fourth, tariff_snapshot=null(), card_label="'''")
    _edit(client, unknown, tariff_snapshot=None, evse_id="-DE*ABC*E1", charging_group_name="x\x7fy\u2028z")
    expected = reference_csv(client, org)
    for cell in (b'"100.00"', b'"308"', b'"1.500"', b'line2\r\n\tx \\ back\\slash\\n \\\\"', b'"\'\t=tab"'):
        assert cell in expected, cell
    assert export(client, org) == expected


def test_amounts_in_every_form_they_are_stored_in(
    client: TestClient, org: Org, sessions: dict[str, Any]
) -> None:
    """Negative and zero amounts, more decimals than the currency has, exponents (SQLite stores
    `str(Decimal)`: `1E+2`, `1.5E-5`; written by Python there), a currency none of the tariffs has
    (written by Python on SQLite; PostgreSQL knows the minor units of the tariffs' currencies only, so
    the amount has them already) and none at all; 2-, 0- and 3-decimal currencies."""
    first, second, third, fourth, unknown = sessions["ids"]
    _edit(client, first, cost=Decimal("-0.5"), energy_kwh=Decimal("1E+2"))
    _edit(client, second, cost=Decimal("-0"), energy_kwh=Decimal("1.5E-5"))
    _edit(client, third, cost=Decimal("0.0005"), energy_kwh=Decimal("-3.250"))
    _edit(client, fourth, cost=Decimal("12.55"), currency="USD", energy_kwh=Decimal("0E-3"))
    _edit(client, unknown, cost=Decimal("7.10"), currency=None, energy_kwh=Decimal("0.000001"))
    expected = reference_csv(client, org)
    for cell in (b'"-0.50"', b'"100"', b'"0.0005"', b'"-3.25"', b'"12.55","USD"', b'"7.1",""'):
        assert cell in expected, cell
    assert export(client, org) == expected


def test_filters_and_batches(client: TestClient, org: Org, sessions: dict[str, Any]) -> None:
    """More rows than one batch (SQLite reads 2,000 at a time); the filters select the same rows."""
    first = sessions["ids"][0]

    async def clone(session: Any) -> dict[str, Any]:
        row = (
            await session.execute(select(ChargingSession).where(ChargingSession.id == uuid.UUID(first)))
        ).scalar_one()
        columns = [c.key for c in ChargingSession.__table__.columns if c.key not in ("id", "transaction_id")]
        values = {key: getattr(row, key) for key in columns}
        base = row.created_at
        rows = [
            {
                **values,
                "id": uuid.uuid4(),
                "transaction_id": f"=clone-{n}",
                "created_at": base + timedelta(seconds=n),
            }
            for n in range(1, 5_201)
        ]
        await session.execute(insert(ChargingSession).execution_options(**{AUDITED_BULK: True}), rows)
        return {"user_group_id": row.user_group_id, "card_id": row.card_id}

    keys = _run(client, clone)
    everything = export(client, org)
    assert everything == reference_csv(client, org)
    assert everything.count(b"\r\n") == 5_206
    group = export(client, org, user_group_id=str(keys["user_group_id"]))
    assert group == reference_csv(client, org, user_group_id=keys["user_group_id"])
    assert group.count(b"\r\n") == 5_202
    window = {
        "started_from": (sessions["t0"] + timedelta(seconds=1)).isoformat(),
        "started_until": (sessions["t0"] + timedelta(seconds=3)).isoformat(),
    }
    windowed = export(client, org, status="completed", **window)
    assert windowed.count(b"\r\n") == 3  # the JPY and KWD sessions


def test_a_client_that_leaves_stops_the_reader(
    client: TestClient, org: Org, sessions: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite reads in a thread of its own, at most QUEUE_CHUNKS ahead: when the response is closed
    after one chunk, the waiting thread ends and its connection is closed (on PostgreSQL the COPY is
    cancelled and its connection dropped); the next export works."""
    test_filters_and_batches(client, org, sessions)
    monkeypatch.setattr(session_export_repository, "SQLITE_BATCH", 100)  # 52 chunks: the reader waits
    ctx = RequestContext(org.id, None, "test", Role.admin, None)

    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def first_chunks() -> list[bytes]:
        async with db.sessionmaker() as session:  # as the router's: closed, never committed
            chunks = session_export.sessions_csv(session, ctx, SessionFilters())
            taken = [await anext(chunks), await anext(chunks)]  # the header, then 100 lines
            await asyncio.sleep(0.5)  # meanwhile the reader fills the queue and waits for room
            await asyncio.wait_for(chunks.aclose(), 10)  # the reader stops, its connection is closed
            return taken

    assert client.portal is not None
    header, lines = client.portal.call(first_chunks)
    assert header.startswith(b'"session_id"') and lines.endswith(b"\r\n")
    for thread in threading.enumerate():
        if thread.name == "ugs-sessions-export":  # its connection is closed: ending it takes a moment
            thread.join(timeout=10)
            assert not thread.is_alive()
    assert export(client, org) == reference_csv(client, org)


def test_a_failure_mid_stream_is_not_a_complete_file(
    client: TestClient, org: Org, sessions: dict[str, Any]
) -> None:
    """SQLite: a row the export cannot write (an amount another writer stored that is not a number,
    written by Python) after more than a batch: the error reaches the server (the connection is
    cut), never a shorter file that looks whole; the next export works."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    if not db.is_sqlite:
        pytest.skip("PostgreSQL writes every cell in SQL: its failure mid-stream is the next test's")
    test_filters_and_batches(client, org, sessions)
    whole = export(client, org)

    async def store_cost(session: Any, cost: str) -> None:
        await session.execute(
            text("UPDATE charging_sessions SET cost = :cost WHERE transaction_id = '=clone-5200'"),
            {"cost": cost},
        )

    _run(client, lambda session: store_cost(session, "not a number"))

    async def get() -> None:
        transport = httpx.ASGITransport(app=client.app)  # raises what the application raises
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await http.get("/v1/sessions/export.csv", headers=org.auth())

    assert client.portal is not None
    with pytest.raises(InvalidOperation):  # amount_text's own error, raised mid-stream
        client.portal.call(get)
    # What a client has received by then is a 200 with a body shorter than the file.
    cut = client.get("/v1/sessions/export.csv", headers=org.auth())
    assert cut.status_code == 200 and len(cut.content) < len(whole)
    _run(client, lambda session: store_cost(session, "1.00"))
    assert export(client, org) == reference_csv(client, org)


def test_a_database_gone_mid_copy_ends_the_export_with_an_error(
    client: TestClient, org: Org, sessions: dict[str, Any]
) -> None:
    """PostgreSQL: the COPY's server process ends while the export is half sent (a restart, an
    operator's pg_terminate_backend): the export raises instead of ending as if complete, and the
    connection it held is not returned to the pool; the next export works."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    if db.is_sqlite:
        pytest.skip("SQLite reads the file in-process: no server to lose")
    first = sessions["ids"][0]
    # 100,000 more rows (~27 MB of CSV): more than the queue and both sockets' buffers hold, so the
    # COPY is still sending when the reader pauses.
    columns = [c.key for c in ChargingSession.__table__.columns if c.key not in ("id", "transaction_id")]
    listed = ", ".join(columns)
    clone = text(
        f"INSERT INTO charging_sessions (id, transaction_id, {listed})"
        f" SELECT gen_random_uuid(), 'gone-' || n, {listed} FROM charging_sessions,"
        " generate_series(1, 100000) AS n WHERE id = :id"
    )
    forget = text("DELETE FROM charging_sessions WHERE transaction_id LIKE 'gone-%'")
    _run(client, lambda session: session.execute(clone, {"id": uuid.UUID(first)}))
    ctx = RequestContext(org.id, None, "test", Role.admin, None)

    async def cut_off() -> BaseException:
        async with db.sessionmaker() as session:  # as the router's: closed, never committed
            chunks = session_export.sessions_csv(session, ctx, SessionFilters())
            await anext(chunks)  # the header
            await anext(chunks)  # the first lines: the COPY is running
            await asyncio.sleep(0.3)  # the queue fills; the COPY waits for the reader
            async with db.sessionmaker() as other:
                copying = (
                    await other.execute(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND query LIKE 'COPY (SELECT concat(%' AND pid <> pg_backend_pid()"
                        )
                    )
                ).scalar_one()
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": copying})
            try:
                async for _ in chunks:
                    pass
            except Exception as error:
                return error
            raise AssertionError("the export ended as if it were complete")

    assert client.portal is not None
    error = client.portal.call(cut_off)
    assert "terminat" in str(error).lower() or "connection" in str(error).lower(), repr(error)
    _run(client, lambda session: session.execute(forget))
    assert export(client, org) == reference_csv(client, org)
