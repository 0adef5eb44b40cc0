"""ISO 4217 currencies in use today and their minor units, from Babel's CLDR data."""

import datetime
from functools import lru_cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies


@lru_cache
def current_currencies() -> frozenset[str]:
    today = datetime.date.today()
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, today))
    return frozenset(codes)


def minor_units(currency: str) -> int:
    """Digits after the decimal point: EUR 2, JPY 0, KWD 3."""
    return int(get_currency_precision(currency))
