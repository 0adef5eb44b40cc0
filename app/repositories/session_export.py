"""The sessions CSV export at the database's speed (docs/performance.md, "The sessions export").

The columns are one table (`COLUMNS`): name, kind, column. Each kind is written in SQL exactly as
`app/csv_cells.py` writes the Python value (text neutralized against formulas, times in UTC in
ISO 8601, amounts with the currency's minor units), so the file is the same on both databases.

* PostgreSQL renders every line itself and sends them with `COPY (SELECT ...) TO STDOUT`, streamed
  through asyncpg's `copy_from_query` on the session's own pooled connection into a bounded queue.
* SQLite selects the text cells ready-made and hands the amounts and the tariff to Python
  (`app/services/session_export.py`), read in batches on the raw driver cursor.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Numeric, Select, Text, case, column, func, literal_column, select, true
from sqlalchemy.engine import Dialect

from app.currencies import minor_units
from app.models import ChargingSession, TariffVersion
from app.repositories.sessions import SessionFilters, SessionRepository

__all__ = ["COLUMNS", "PYTHON_KINDS", "SessionExportRepository"]

T = "charging_sessions"
# (header, kind, SQL column); kinds: id, text, time, decimal, money, tariff, as written by csv_cells.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("session_id", "id", f"{T}.id"),
    ("transaction_id", "text", f"{T}.transaction_id"),
    ("user_group", "text", f"{T}.user_group_name"),
    ("card_uid", "text", f"{T}.id_token"),
    ("card_label", "text", f"{T}.card_label"),
    ("charging_group", "text", f"{T}.charging_group_name"),
    ("evse_id", "text", f"{T}.evse_id"),
    ("started_at", "time", f"{T}.started_at"),
    ("stopped_at", "time", f"{T}.stopped_at"),
    ("energy_kwh", "decimal", f"{T}.energy_kwh"),
    ("cost", "money", f"{T}.cost"),
    ("currency", "text", f"{T}.currency"),
    ("tariff", "tariff", f"{T}.tariff_snapshot"),
    ("decision", "text", f"{T}.decision_status"),
)
# On SQLite these come raw and Python writes them; "money" also needs the raw currency (last column).
PYTHON_KINDS = ("decimal", "money", "tariff")
SQLITE_BATCH = 2000
QUEUE_CHUNKS = 8  # COPY chunks in flight to the response (what one socket read held: ~200 KB measured)
COPY_TIMEOUT_S = 24 * 3600.0  # asyncpg bounds the whole COPY (the client's reading included)
HYPHEN = " || '-' || "
SNAPSHOT = "snapshot"
# The tariff copy's fields, typed as the description reads them (a JSON number or text alike).
SNAPSHOT_FIELDS = {"currency": Text, "price_per_kwh": Numeric, "session_fee": Numeric}
SNAPSHOT_FIELDS |= {"parking_fee_per_hour": Numeric, "parking_grace_minutes": Text}
_CODE = re.compile(r"[A-Z]{3}")
# COPY's text format escapes these in a value; a raw newline is only ever a line's end.
_TEXT_ESCAPES = {b"\\\\": b"\\", b"\\n": b"\n", b"\\r": b"\r", b"\\t": b"\t"}
_TEXT_ESCAPES |= {b"\\b": b"\b", b"\\f": b"\f", b"\\v": b"\v", b"\n": b"\r\n"}
_TEXT_ESCAPE = re.compile(rb"\n|\\[\\nrtbfv]")


def _neutralized(text: str) -> str:
    """csv_cells.neutralize: a leading `'` when the text, after any quotes, starts a formula."""
    triggers = "'=', '+', '-', '@', '\t', '\r'"  # a real tab and CR inside the SQL literals
    # Most text starts with none of them nor a quote: the first test is all most cells cost.
    maybe = f"substr({text}, 1, 1) IN ({triggers}, '''')"
    formula = f"substr(ltrim({text}, ''''), 1, 1) IN ({triggers})"
    return f"CASE WHEN {maybe} AND {formula} THEN '''' || {text} ELSE {text} END"


def _text(column: str) -> str:
    return _neutralized(f"coalesce({column}, '')")


def _money(amount: str, units: str) -> str:
    """currencies.amount_text: the amount without trailing zeros, but at least the minor units."""
    return f"(CASE WHEN scale(trim_scale({amount})) < {units} THEN round({amount}, {units}) ELSE trim_scale({amount}) END)::text"  # noqa: E501


def _units(code: str, currencies: Sequence[str]) -> str:
    cases = " ".join(f"WHEN '{c}' THEN {minor_units(c)}" for c in currencies if minor_units(c) is not None)
    return f"(CASE {code} {cases} END)" if cases else "NULL::int"


def _tariff(snapshot: str, currencies: Sequence[str]) -> str:
    """The router's former `_describe_tariff`, in SQL: '' without a tariff."""

    def field(name: str) -> str:  # parsed once per row (SNAPSHOT, joined laterally)
        return f"{SNAPSHOT}.{name}"

    def amount(name: str) -> str:
        return _money(field(name), _units(field("currency"), currencies))

    grace = f"coalesce(nullif({field('parking_grace_minutes')}, '0'), '0')"
    describe = (
        f"{field('currency')} || ' ' || {amount('price_per_kwh')} || '/kWh'"
        f" || CASE WHEN {field('session_fee')} IS NULL THEN '' ELSE ' + ' || {amount('session_fee')} || '/session' END"  # noqa: E501
        f" || CASE WHEN {field('parking_fee_per_hour')} IS NULL THEN '' ELSE ' + ' || {amount('parking_fee_per_hour')}"  # noqa: E501
        f" || '/h parking after ' || {grace} || ' min' END"
    )
    empty = f"{snapshot} IS NULL OR json_typeof({snapshot}) <> 'object' OR {snapshot}::text = '{{}}'"
    return _neutralized(f"(CASE WHEN {empty} THEN '' ELSE {describe} END)")


def _pg_cell(kind: str, column: str, currencies: Sequence[str]) -> str:
    """The cell's text, NULL for an empty cell (`concat` writes NULL as nothing)."""
    if kind == "text":
        return f"""replace({_neutralized(column)}, '"', '""')"""
    if kind == "tariff":
        return f"""replace({_tariff(column, currencies)}, '"', '""')"""
    if kind == "id":
        return f"{column}::text"
    if kind == "time":  # isoformat(): the microseconds only when there are some
        iso = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
        return f"replace({iso}, '.000000+', '+')"
    if kind == "decimal":
        return f"trim_scale({column})::text"
    return _money(column, _units(f"{T}.currency", currencies))  # money, in the session's currency


def _pg_line(currencies: Sequence[str]) -> str:
    """One `concat` for the whole line (no copy per cell): every cell quoted, as CsvWriter does."""
    cells = """, '","', """.join(_pg_cell(kind, column, currencies) for _, kind, column in COLUMNS)
    return f"""concat('"', {cells}, '"')"""


def _sqlite_cell(kind: str, column: str) -> str:
    if kind == "text":
        return _text(column)
    if kind == "id":
        parts = [
            f"substr({column}, {at}, {length})" for at, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        ]
        return f"coalesce({HYPHEN.join(parts)}, '')"
    if kind == "time":  # stored as naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'
        fraction = f"CASE WHEN substr({column}, 21) IN ('', '000000') THEN '' ELSE substr({column}, 20) END"
        return f"coalesce(substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || {fraction} || '+00:00', '')"  # noqa: E501
    return column  # decimal, money, tariff: raw, for Python


def decode_copy_text(chunk: bytes) -> bytes:
    """COPY's text format of one-column rows -> the CSV lines they hold, ended by CRLF as CsvWriter ends
    them. PostgreSQL sends whole rows per message, so no escape is split between two chunks."""
    if b"\\" not in chunk:
        return bytes(chunk).replace(b"\n", b"\r\n")
    return _TEXT_ESCAPE.sub(lambda match: _TEXT_ESCAPES[match.group(0)], bytes(chunk))


def driver_statement(statement: Select[*tuple[Any, ...]], dialect: Dialect) -> tuple[str, list[Any]]:
    """The statement as the driver takes it: SQL with positional parameters, values bind-processed."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = []
    for name in compiled.positiontup or ():
        value = compiled.params[name]
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        values.append(value if processor is None or value is None else processor(value))
    return compiled.string, values


class SessionExportRepository(SessionRepository):
    def _ordered(
        self, filters: SessionFilters, *cells: str, snapshot: bool = False
    ) -> Select[*tuple[Any, ...]]:
        source: Any = ChargingSession.__table__
        if snapshot:  # the JSON parsed once per row, not once per field
            copy = ChargingSession.tariff_snapshot
            fields = func.json_to_record(case((func.json_typeof(copy) == "object", copy))).table_valued(
                *(column(name, kind) for name, kind in SNAPSHOT_FIELDS.items())
            )
            source = source.outerjoin(fields.render_derived(with_types=True).lateral(SNAPSHOT), true())
        statement: Select[*tuple[Any, ...]] = (
            self._filtered(filters)
            .with_only_columns(*(literal_column(cell) for cell in cells))
            .select_from(source)
            .order_by(ChargingSession.created_at, ChargingSession.id)
        )
        return statement

    async def _currencies(self) -> list[str]:
        """Every currency a session can have: the organization's tariffs' (a session copies its tariff's,
        and a tariff version with sessions cannot be deleted)."""
        statement = select(TariffVersion.currency).where(
            TariffVersion.organization_id == self.organization_id
        )
        codes = (await self.session.execute(statement.distinct())).scalars().all()
        return sorted(code for code in codes if _CODE.fullmatch(code))

    async def postgres_lines(self, filters: SessionFilters) -> AsyncIterator[bytes]:
        """The CSV lines, rendered by PostgreSQL and streamed by COPY in constant memory."""
        currencies = await self._currencies()
        line = _pg_line(currencies)
        connection = await self.session.connection()
        # One statement for the whole export, however slowly the client reads: no statement timeout.
        await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        sql, values = driver_statement(self._ordered(filters, line, snapshot=True), connection.dialect)
        driver: Any = (await connection.get_raw_connection()).driver_connection
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(QUEUE_CHUNKS)

        async def copy() -> None:
            try:
                await driver.copy_from_query(sql, *values, output=queue.put, timeout=COPY_TIMEOUT_S)
                await queue.put(None)
            except Exception as error:  # handed to the reader, which raises it mid-stream
                await queue.put(error)

        task = asyncio.create_task(copy())
        finished = False
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield decode_copy_text(item)
            finished = True
        finally:
            if not finished:  # the client left or the COPY failed: never reuse a connection mid-COPY
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                if not connection.closed:
                    await connection.invalidate()

    async def sqlite_batches(self, filters: SessionFilters) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Rows of text cells (amounts and tariff raw, then the raw currency), in batches on the driver."""
        cells = [_sqlite_cell(kind, column) for _, kind, column in COLUMNS] + [f"{T}.currency"]
        connection = await self.session.connection()
        sql, values = driver_statement(self._ordered(filters, *cells), connection.dialect)
        driver: Any = (await connection.get_raw_connection()).driver_connection
        cursor = await driver.execute(sql, values)
        try:
            while rows := await cursor.fetchmany(SQLITE_BATCH):
                yield rows
        finally:
            await cursor.close()
