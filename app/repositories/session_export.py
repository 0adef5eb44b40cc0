"""The sessions CSV export at the database's speed (docs/performance.md, "The sessions export").

The columns are one table (`COLUMNS`): name, kind, column. Each kind is written in SQL exactly as
`app/csv_cells.py` writes the Python value (text neutralized against formulas, times in UTC in
ISO 8601, amounts with the currency's minor units), so the file is the same on both databases.
The tariff is the text written with the session when it started (`tariff_description`).

* PostgreSQL renders every line itself and sends them with `COPY (SELECT ...) TO STDOUT`, streamed
  through asyncpg's `copy_from_query` on the session's own pooled connection into a bounded queue.
* SQLite renders every line too, amounts included for the plain text `str(Decimal)` stores; the rare
  amount in another form is written by a Python function the service gives, called by SQLite. A
  thread of its own reads the lines on a stdlib `sqlite3` connection to the same file, joins each
  batch into one chunk and hands it to the response through a bounded queue.
"""

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, literal_column, select
from sqlalchemy.engine import Dialect

from app.currencies import minor_units
from app.models import ChargingSession, TariffVersion
from app.repositories.sessions import SessionFilters, SessionRepository

__all__ = ["AMOUNT", "COLUMNS", "SessionExportRepository"]

T = "charging_sessions"
# (header, kind, SQL column); kinds: id, text, time, decimal, money, as written by csv_cells.
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
    ("tariff", "text", f"{T}.tariff_description"),
    ("decision", "text", f"{T}.decision_status"),
)
# SQLite calls this Python function (registered on the export's connection, given by the service):
# AMOUNT(stored amount, currency or NULL) for an amount not in plain form.
AMOUNT = "ugs_export_amount"
SQLITE_BATCH = 800  # lines per fetch, joined into one chunk: ~270 KB with the bench's data
QUEUE_CHUNKS = 8  # chunks in flight to the response (COPY's: what one socket read held, ~200 KB measured)
SQLITE_BUSY_MS = 5000  # a WAL reader waits for a lock only while a checkpoint resets the log
COPY_TIMEOUT_S = 24 * 3600.0  # asyncpg bounds the whole COPY (the client's reading included)
HYPHEN = " || '-' || "
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


def _money(amount: str, units: str) -> str:
    """currencies.amount_text: the amount without trailing zeros, but at least the minor units."""
    return f"(CASE WHEN scale(trim_scale({amount})) < {units} THEN round({amount}, {units}) ELSE trim_scale({amount}) END)::text"  # noqa: E501


def _units(code: str, currencies: Sequence[str]) -> str:
    cases = " ".join(f"WHEN '{c}' THEN {minor_units(c)}" for c in currencies if minor_units(c) is not None)
    return f"(CASE {code} {cases} END)" if cases else "NULL::int"


def _pg_cell(kind: str, column: str, currencies: Sequence[str]) -> str:
    """The cell's text, NULL for an empty cell (`concat` writes NULL as nothing)."""
    if kind == "text":
        return f"""replace({_neutralized(column)}, '"', '""')"""
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


def _sqlite_plain(value: str) -> str:
    """The value is text in the plain form `str(Decimal)` writes, `-?(0|[1-9][0-9]*)(\\.[0-9]+)?`, of at
    most 20 characters (NUMERIC(18, 6)'s, so the padded amount stays well inside Decimal's precision).
    Most amounts start with 1-9 and are positive: three tests; the others get every test."""
    usual = f"{value} GLOB '[1-9]*' AND {value} NOT GLOB '*[^0-9.]*' AND {value} NOT GLOB '*.*.*'"
    other = (
        f"{value} NOT GLOB '*[^0-9.-]*' AND {value} GLOB '*[0-9]' AND {value} NOT GLOB '?*-*'"
        f" AND {value} NOT GLOB '*.*.*' AND {value} NOT GLOB '*[^0-9].*' AND {value} NOT GLOB '.*'"
        f" AND {value} NOT GLOB '0[0-9]*' AND {value} NOT GLOB '-0[0-9]*'"
    )
    return f"typeof({value}) = 'text' AND length({value}) <= 20 AND (({usual}) OR ({other}))"


def _sqlite_padded(value: str, units: int) -> str:
    """amount_text of a plain value with `units` minor units (> 0): trailing zeros dropped, then zeros
    added up to the minor units. Most amounts already have exactly that many decimals."""
    exact = f"{value} GLOB '*.{'?' * units}'"
    zeros = "0" * units
    trimmed = f"rtrim({value}, '0')"  # the point stays: `1.000` -> `1.` -> `1.00`
    padded = f"substr({trimmed} || '{zeros}', 1, max(length({trimmed}), instr({value}, '.') + {units}))"
    return f"CASE WHEN {exact} THEN {value} WHEN instr({value}, '.') = 0 THEN {value} || '.{zeros}' ELSE {padded} END"  # noqa: E501


def _sqlite_amount(value: str, code: str | None, currencies: Sequence[str]) -> str:
    """currencies.amount_text in SQL for the plain text `str(Decimal)` stores (`-12.3400`, `100`):
    trailing zeros dropped, then zeros added up to the currency's minor units (none without a currency:
    energy is written as Decimal.normalize, the same rule). Any other form (an exponent, NaN, a number
    stored by another writer) and a currency the organization's tariffs do not have go to Python:
    AMOUNT, amount_text itself."""
    python = f"{AMOUNT}({value}, {code or 'NULL'})"
    # Decimal.normalize's text: most values have a point and end in 1-9, nothing to drop.
    normalized = (
        f"CASE WHEN {value} GLOB '*.*[1-9]' THEN {value}"
        f" WHEN instr({value}, '.') THEN rtrim(rtrim({value}, '0'), '.') ELSE {value} END"
    )
    by_units: dict[int, list[str]] = {}
    for currency in currencies:
        if (units := minor_units(currency)) is not None:
            by_units.setdefault(units, []).append(f"'{currency}'")
    if code is None:
        written = normalized
    else:
        cases = " ".join(
            f"WHEN {code} IN ({', '.join(codes)}) THEN {_sqlite_padded(value, n) if n else normalized}"
            for n, codes in sorted(by_units.items())
        )
        written = f"CASE {cases} WHEN {code} IS NULL THEN {normalized} ELSE {python} END"
    return f"(CASE WHEN {value} IS NULL THEN '' WHEN {_sqlite_plain(value)} THEN {written} ELSE {python} END)"


def _sqlite_text(column: str) -> str:
    """csv_cells.neutralize with GLOB (one test is all most cells cost), quotes doubled."""
    text = f"coalesce({column}, '')"
    triggers = "=+@\t\r-"  # a real tab and CR in the class; `-` last stands for itself
    formula = f"{text} GLOB '[''{triggers}]*' AND ltrim({text}, '''') GLOB '[{triggers}]*'"
    neutralized = f"CASE WHEN {formula} THEN '''' || {text} ELSE {text} END"
    # Most text holds no quote: looking costs less than replace's copy.
    return f"""CASE WHEN {text} GLOB '*"*' THEN replace({neutralized}, '"', '""') ELSE {neutralized} END"""


def _sqlite_cell(kind: str, column: str, currencies: Sequence[str]) -> str:
    """The cell's text, quotes doubled where text can hold them."""
    if kind == "text":
        return _sqlite_text(column)
    if kind == "id":
        parts = [
            f"substr({column}, {at}, {length})" for at, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        ]
        return f"coalesce({HYPHEN.join(parts)}, '')"
    if kind == "time":  # stored as naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'
        day = f"substr({column}, 1, 10) || 'T' || "  # isoformat(): the microseconds only when there are some
        whole = f"WHEN {column} GLOB '*.000000' THEN {day}substr({column}, 12, 8) || '+00:00'"
        return f"CASE WHEN {column} IS NULL THEN '' {whole} ELSE {day}substr({column}, 12) || '+00:00' END"
    if kind == "decimal":
        return _sqlite_amount(column, None, currencies)
    return _sqlite_amount(column, f"{T}.currency", currencies)  # money, in the session's currency


def _sqlite_line(currencies: Sequence[str]) -> str:
    """The whole CSV line, CRLF included, as CsvWriter writes it: every cell quoted."""
    cells = """ || '","' || """.join(_sqlite_cell(kind, column, currencies) for _, kind, column in COLUMNS)
    return f"""'"' || {cells} || '"' || char(13, 10)"""


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
    def _ordered(self, filters: SessionFilters, *cells: str) -> Select[*tuple[Any, ...]]:
        """The cells of every matching session in export order."""
        statement: Select[*tuple[Any, ...]] = (
            self._filtered(filters)
            .with_only_columns(*(literal_column(cell) for cell in cells))
            .order_by(ChargingSession.created_at, ChargingSession.id)
        )
        return statement

    def _currencies_statement(self) -> Select[str]:
        """Every currency a session can have: the organization's tariffs' (a session copies its tariff's,
        and a tariff version with sessions cannot be deleted)."""
        return (
            select(TariffVersion.currency)
            .where(TariffVersion.organization_id == self.organization_id)
            .distinct()
        )

    async def _currencies(self) -> list[str]:
        codes = (await self.session.execute(self._currencies_statement())).scalars().all()
        return sorted(code for code in codes if _CODE.fullmatch(code))

    async def postgres_lines(self, filters: SessionFilters) -> AsyncGenerator[bytes]:
        """The CSV lines, rendered by PostgreSQL and streamed by COPY in constant memory."""
        currencies = await self._currencies()
        line = _pg_line(currencies)
        connection = await self.session.connection()
        # One statement for the whole export, however slowly the client reads: no statement timeout.
        await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        sql, values = driver_statement(self._ordered(filters, line), connection.dialect)
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

    async def sqlite_lines(
        self, filters: SessionFilters, amount: Callable[[Any, str | None], str]
    ) -> AsyncGenerator[bytes]:
        """The CSV lines rendered by SQLite, in chunks of SQLITE_BATCH lines, read by a thread of their own
        on a read-only stdlib connection to the database file; `amount` is AMOUNT."""
        bind = self.session.get_bind()

        def lines(currencies: Sequence[str]) -> tuple[str, list[Any]]:
            return driver_statement(self._ordered(filters, _sqlite_line(currencies)), bind.dialect)

        reader = _SqliteReader(
            str(bind.engine.url.database),
            driver_statement(self._currencies_statement(), bind.dialect),
            lines,
            {AMOUNT: (2, amount)},
        )
        reader.start()
        try:
            while (item := await reader.queue.get()) is not None:
                reader.slots.release()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await reader.stop()


class _SqliteReader:
    """One export's lines, read in a thread (SQLite computes while the event loop sends) and handed to
    the loop as chunks; at most QUEUE_CHUNKS wait, so a slow client holds the reader, not memory."""

    def __init__(
        self,
        path: str,
        currencies: tuple[str, list[Any]],
        lines: Callable[[Sequence[str]], tuple[str, list[Any]]],
        functions: dict[str, tuple[int, Callable[..., str]]],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self.slots = threading.Semaphore(QUEUE_CHUNKS)
        self.path, self.currencies, self.lines, self.functions = path, currencies, lines, functions
        self.failures: list[Exception] = []  # what a Python function raised (SQLite only says that one did)
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.stopping = False
        self.connection: sqlite3.Connection | None = None
        self.thread = threading.Thread(target=self._run, name="ugs-sessions-export", daemon=True)

    def start(self) -> None:
        self.thread.start()

    async def stop(self) -> None:
        """Ends the read (the client left, or all was sent) and waits until the connection is closed."""
        self.stopping = True
        self.slots.release()  # a reader waiting for room wakes and sees `stopping`
        if (connection := self.connection) is not None:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile
                connection.interrupt()  # a statement still running ends at its next step
        await self.finished

    def _hand(self, item: bytes | BaseException | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody reads any more
            self.stopping = True

    def _guarded(self, function: Callable[..., str]) -> Callable[..., str | None]:
        def call(*arguments: Any) -> str | None:
            try:
                return function(*arguments)
            except Exception as error:  # the line becomes NULL; the reader raises this error
                self.failures.append(error)
                return None

        return call

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.connection = connection
            try:
                self._read(connection)
            finally:
                self.connection = None
                connection.close()
        except BaseException as error:
            self._hand(error)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def _read(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        connection.execute("PRAGMA query_only=ON")
        for name, (arity, function) in self.functions.items():
            connection.create_function(name, arity, self._guarded(function), deterministic=True)
        connection.execute("BEGIN")  # one snapshot for both reads
        codes = [code for (code,) in connection.execute(*self.currencies)]  # one column: the currency
        currencies = sorted(code for code in codes if isinstance(code, str) and _CODE.fullmatch(code))
        connection.text_factory = bytes  # the lines go out as SQLite holds them: UTF-8, no decoding
        cursor = connection.execute(*self.lines(currencies))
        while not self.stopping and (rows := cursor.fetchmany(SQLITE_BATCH)):
            try:
                chunk = b"".join(map(itemgetter(0), rows))
            except TypeError:  # a NULL line: a Python function failed on it
                failure = (
                    self.failures[0] if self.failures else RuntimeError("a sessions export line is NULL")
                )
                raise failure from None
            self.slots.acquire()
            if self.stopping:
                return
            self._hand(chunk)
        cursor.close()
        connection.execute("COMMIT")
        self._hand(None)
