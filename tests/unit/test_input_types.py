"""The one date-time type of every input, and the one CSV cell rule of every output."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from app.csv_cells import FORMULA_TRIGGERS, CsvWriter, neutralize, read_cell, render
from app.schemas.common import EARLIEST_DATETIME, LATEST_DATETIME, UtcDateTime

DATE_TIME = TypeAdapter(UtcDateTime)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T08:00:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01t09:00:00.5+01:00", datetime(2026, 11, 1, 8, 0, 0, 500_000, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", EARLIEST_DATETIME),
        ("9998-12-31T23:59:59.999999Z", datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_are_kept_in_utc(text: str, expected: datetime) -> None:
    parsed = DATE_TIME.validate_python(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        ("2026-11-01T08:00:00", "datetime_rfc3339", "needs a zone offset"),
        ("2026-11-01 08:00:00", "datetime_rfc3339", "needs a zone offset"),
        ("2026-11-01T08:00:00 01:00", "datetime_rfc3339", "%2B"),
        ("1700000000", "datetime_rfc3339", "not an RFC 3339"),
        (1700000000, "datetime_rfc3339", "not a number"),
        (1.5, "datetime_rfc3339", "not a number"),
        (False, "datetime_rfc3339", "not a boolean"),
        ("2026-11-01T08:00:00+0100", "datetime_rfc3339", "not an RFC 3339"),
        ("0001-01-01T00:30:00+01:00", "datetime_range", "1970-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59-01:00", "datetime_range", "9999-01-01T00:00:00Z"),
        ("9999-01-01T00:00:00Z", "datetime_range", "excluding"),
        ("1969-12-31T23:59:59Z", "datetime_range", "1970"),
        ("2026-02-30T00:00:00Z", "datetime_from_date_parsing", ""),
    ],
)
def test_everything_else_is_refused_with_a_reason(value: Any, kind: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DATE_TIME.validate_python(value)
    error = refused.value.errors()[0]
    assert error["type"] == kind
    assert words in error["msg"]


def test_the_json_schema_stays_a_plain_date_time() -> None:
    assert DATE_TIME.json_schema() == {"type": "string", "format": "date-time"}


def test_range_ends() -> None:
    assert EARLIEST_DATETIME < LATEST_DATETIME < datetime.max.replace(tzinfo=UTC)


# CSV cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_each_trigger_is_neutralized(trigger: str) -> None:
    assert neutralize(f"{trigger}1+1") == f"'{trigger}1+1"
    assert read_cell(f"'{trigger}1+1") == f"{trigger}1+1"


@given(st.text(max_size=30))
def test_reading_back_gives_the_original_text(text: str) -> None:
    written = neutralize(text)
    assert written[:1] not in FORMULA_TRIGGERS
    assert read_cell(written) == text


def test_only_text_is_neutralized() -> None:
    moment = datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert render(Decimal("-5.00")) == "-5.00"
    assert render(-3) == "-3"
    assert render(moment) == "2026-11-01T08:00:00+00:00"
    assert render(None) == ""
    assert render(True) == "true"
    assert render("-3") == "'-3"


def test_the_writer_quotes_every_cell_and_streams_in_pieces() -> None:
    writer = CsvWriter()
    writer.writerow(["a;=1+1", 1, None, '=say "hi"'])
    assert writer.take() == '"a;=1+1","1","","\'=say ""hi"""\r\n'
    assert writer.take() == ""
