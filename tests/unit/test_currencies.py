"""ISO 4217 minor units come from the standard's table, and amounts are written with them."""

from datetime import date
from decimal import Decimal

import pytest

from app.currencies import ISO4217_PUBLISHED, amount_text, minor_units, refusal, round_half_up


@pytest.mark.parametrize(
    ("code", "units"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("RSD", 2),  # CLDR (Babel) says 0
        ("IQD", 3),  # CLDR says 0
        ("KWD", 3),
        ("JPY", 0),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_minor_units_are_the_standards(code: str, units: int) -> None:
    assert minor_units(code) == units
    assert refusal(code) is None


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XXX", "XTS"])
def test_codes_without_a_minor_unit_are_refused(code: str) -> None:
    assert minor_units(code) is None
    assert "N.A." in (refusal(code) or "")


@pytest.mark.parametrize("code", ["DEM", "HRK", "ABC", "eur"])
def test_codes_not_in_the_current_table_are_refused(code: str) -> None:
    assert minor_units(code) is None
    assert "not a current ISO 4217" in (refusal(code) or "")


def test_the_table_is_a_recent_publication() -> None:
    assert date(2025, 1, 1) <= ISO4217_PUBLISHED


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("1", "EUR", "1.00"),
        ("1.5", "EUR", "1.50"),
        ("0.355", "EUR", "0.355"),
        ("1E+2", "EUR", "100.00"),
        ("12.850000", "EUR", "12.85"),  # PostgreSQL's NUMERIC scale is not echoed
        ("0", "EUR", "0.00"),
        ("308", "JPY", "308"),
        ("41.5", "JPY", "41.5"),
        ("1.5", "KWD", "1.500"),
        ("0.5", "CLF", "0.5000"),
        ("7", "RSD", "7.00"),
        ("7", None, "7"),
        ("7.10", "HRK", "7.1"),  # withdrawn since recorded: written as it is, not guessed
    ],
)
def test_amount_text(amount: str, code: str | None, text: str) -> None:
    assert amount_text(Decimal(amount), code) == text


@pytest.mark.parametrize(
    ("amount", "code", "rounded"),
    [
        ("0.125", "EUR", "0.13"),
        ("0.135", "EUR", "0.14"),
        ("307.5", "JPY", "308"),
        ("12.3455", "KWD", "12.346"),
        ("12.345", "RSD", "12.35"),
        ("1.00005", "CLF", "1.0001"),
    ],
)
def test_round_half_up_to_the_minor_unit(amount: str, code: str, rounded: str) -> None:
    result = round_half_up(Decimal(amount), code)
    assert result == Decimal(rounded)
    assert str(result) == rounded
