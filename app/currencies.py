"""ISO 4217 currencies and their minor units, and how amounts in them are written.

The table is ISO 4217 list one (current currencies and funds) as published by the maintenance
agency, shipped by the `iso4217` package (its version carries the publication date; upgrading it
follows the amendments). CLDR's digits (Babel) are display conventions and differ from the
standard: RSD, IQD and others have 2 or 3 minor units in ISO 4217 but 0 in CLDR.

Codes whose minor unit is "N.A." in the standard (gold XAU, silver XAG, SDR XDR, the testing code
XTS, "no currency" XXX, the bond-market units) have no smallest amount, so a cost in them cannot
be rounded: they are not accepted for tariffs.
"""

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import iso4217

ISO4217_PUBLISHED = iso4217.__published__


@cache
def minor_units(code: str) -> int | None:
    """Digits after the decimal point (EUR 2, JPY 0, KWD 3, CLF 4); None for a code that is not in
    the table or whose minor unit is N.A."""
    try:
        currency = iso4217.Currency(code)
    except ValueError:
        return None
    return currency.exponent


def refusal(code: str) -> str | None:
    """Why `code` cannot be a tariff's currency, or None when it can."""
    try:
        iso4217.Currency(code)
    except ValueError:
        return f"{code!r} is not a current ISO 4217 currency code"
    if minor_units(code) is None:
        return f"{code!r} has no minor unit in ISO 4217 (N.A.), so its amounts cannot be rounded"
    return None


def round_half_up(amount: Decimal, code: str) -> Decimal:
    """Rounded half-up to the currency's minor unit. A code the table no longer has (withdrawn after
    the amount was recorded) keeps the amount as it is rather than guessing a unit."""
    units = minor_units(code)
    if units is None:
        return amount
    return amount.quantize(Decimal(1).scaleb(-units), rounding=ROUND_HALF_UP)


def amount_text(amount: Decimal, code: str | None) -> str:
    """An amount as people write it: at least the currency's minor units, more only when the amount
    has them (EUR `1` -> `1.00`, `1.5` -> `1.50`, `0.355` stays; JPY `308`). Never rounds."""
    normalized = amount.normalize()
    units = minor_units(code) if code else None
    exponent = normalized.as_tuple().exponent
    if units is not None and isinstance(exponent, int) and -exponent < units:
        normalized = normalized.quantize(Decimal(1).scaleb(-units))
    return format(normalized, "f")


@cache
def minor_units_table() -> tuple[tuple[str, int], ...]:
    """Every code with a minor unit and its digits, for statements that round in the database."""
    return tuple(
        (currency.code, currency.exponent) for currency in iso4217.Currency if currency.exponent is not None
    )
