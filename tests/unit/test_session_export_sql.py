"""The SQLite export's cells written in SQL (app/repositories/session_export.py) are what Python writes
(currencies.amount_text, Decimal.normalize, csv_cells.neutralize and the csv module's quoting), for
every form an amount can be stored in and for awkward text; what SQL does not write itself goes to the
Python function, and an amount Python cannot read fails as it does in Python."""

import sqlite3
from collections.abc import Iterator
from decimal import Decimal

import pytest

from app.csv_cells import neutralize
from app.currencies import amount_text
from app.repositories.session_export import AMOUNT, T, _sqlite_amount, _sqlite_text
from app.services.session_export import _amount_cell

CURRENCIES = ["CLF", "EUR", "JPY", "KWD"]  # 4, 2, 0 and 3 minor units: the organization's tariffs'
SESSION_CURRENCIES = [*CURRENCIES, None, "", "USD", "XAU", "ZZZ"]  # not a tariff's, N.A., unknown


def _plain_amounts() -> Iterator[str]:
    for sign in ("", "-"):
        for whole in ("0", "1", "10", "100", "308", "123456789012"):
            for fraction in ("", ".0", ".000000", ".5", ".50", ".05", ".123", ".1230", ".355", ".1255"):
                yield sign + whole + fraction
        yield sign + "0.000001"
        yield sign + "999999999999.999999"  # NUMERIC(18, 6)'s largest


# What str(Decimal) stores besides the plain form, then text and numbers another writer may have left.
OTHER_FORMS: list[object] = [
    *(str(Decimal(text)) for text in ("1E+2", "1.5E-7", "0E-7", "-0E+3", "NaN", "-Infinity")),
    ".5", "-.5", "007", "-01.5", "00.5", "1.", "-", "+1", " 1", "1 ", "1.2.3", "1-2", "1.-2", "", "1e2",
    "12345678901234567890.5", "-0", "0", "-0.0",
    0.3, 100, -2.5,
]  # fmt: skip


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE TABLE {T} (cost, energy_kwh, currency, label)")
    connection.create_function(AMOUNT, 2, _amount_cell, deterministic=True)
    yield connection
    connection.close()


def _python(value: object, currency: str | None) -> str | None:
    """None when Python cannot read the amount."""
    try:
        return amount_text(Decimal(value), currency)  # type: ignore[arg-type]
    except (ArithmeticError, ValueError, TypeError):
        return None


def _sql(db: sqlite3.Connection, expression: str, value: object, currency: str | None) -> str | None:
    db.execute(f"DELETE FROM {T}")
    db.execute(f"INSERT INTO {T} (cost, energy_kwh, currency) VALUES (?, ?, ?)", (value, value, currency))
    try:
        row = db.execute(f"SELECT {expression} FROM {T}").fetchone()
    except sqlite3.OperationalError as error:  # the Python function raised
        assert "user-defined function raised exception" in str(error)
        return None
    written: str = row[0]
    return written


@pytest.mark.parametrize("value", [*_plain_amounts(), *OTHER_FORMS])
def test_amounts_are_written_as_python_writes_them(db: sqlite3.Connection, value: object) -> None:
    money = _sqlite_amount(f"{T}.cost", f"{T}.currency", CURRENCIES)
    energy = _sqlite_amount(f"{T}.energy_kwh", None, CURRENCIES)
    for currency in SESSION_CURRENCIES:
        assert _sql(db, money, value, currency) == _python(value, currency), (value, currency)
    # The energy: Decimal.normalize written in full, which is amount_text without a currency.
    try:
        expected: str | None = format(Decimal(value).normalize(), "f")  # type: ignore[arg-type]
    except (ArithmeticError, ValueError, TypeError):
        expected = None
    assert _sql(db, energy, value, "EUR") == expected, value


def test_an_amount_is_empty_when_null(db: sqlite3.Connection) -> None:
    assert _sql(db, _sqlite_amount(f"{T}.cost", f"{T}.currency", CURRENCIES), None, "EUR") == ""
    assert _sql(db, _sqlite_amount(f"{T}.energy_kwh", None, []), None, None) == ""
    assert _sql(db, _sqlite_amount(f"{T}.cost", f"{T}.currency", []), "1.5", "EUR") == "1.50"  # by Python


TEXTS = [
    None, "", "plain", "=1+1", "+tx", "-minus", "@label", "\t=tab", "\r=cr", "'=already", "'''", "''-x",
    "'plain", "a=b", " =space", '"quoted"', 'say "hi", ok', "line1\nline2\r\n", "back\\slash", "Grüße 🚗 €",
    "x\x7fy\u2028z", "-", "'", "=", "[=]", "*?", "-1.5",
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_neutralized_and_quoted_as_the_csv_writer_does(
    db: sqlite3.Connection, text: str | None
) -> None:
    db.execute(f"INSERT INTO {T} (label) VALUES (?)", (text,))
    (written,) = db.execute(f"SELECT {_sqlite_text(f'{T}.label')} FROM {T}").fetchone()
    assert written == ("" if text is None else neutralize(text).replace('"', '""'))
