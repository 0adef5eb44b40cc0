"""Shared schema base and reusable field types."""

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from app.currencies import amount_text


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


def _printable(value: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in value):
        raise ValueError("must not contain control or invisible characters")
    return value


# Trimmed, printable text of 1 to N characters.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_printable)
]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_printable)
]
# Text without control characters (they break logs and CSV, and PostgreSQL refuses NUL).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
# json_schema_extra of a response field that is never stored for an idempotent replay (a secret).
WITHHELD_ON_REPLAY: dict[str, Any] = {"x-withheld-on-replay": True}
PlainText = Annotated[str, StringConstraints(pattern=NO_CONTROL_CHARACTERS)]

# Input times --------------------------------------------------------------------------------
# Every date-time the API accepts (JSON bodies, query parameters, CSV cells) is this one type:
# an RFC 3339 string with a zone offset, inside a range where the service's arithmetic (cache
# lifetimes, validity windows, durations) cannot overflow, kept in UTC from then on.
EARLIEST_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATETIME = datetime(9999, 1, 1, tzinfo=UTC)  # exclusive: a year of headroom below datetime.max
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII)
_SPACE_FOR_PLUS = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)? \d{2}:\d{2}", re.ASCII)
_EXAMPLE = "e.g. 2026-11-01T08:00:00Z or 2026-11-01T09:00:00+01:00"


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text reaches the parser: pydantic alone would take 1700000000 (a number,
    or that text in a query string) as Unix seconds, and a time without offset as naive."""
    if isinstance(value, datetime):  # built by our own code, not parsed from a request
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "datetime_rfc3339", f"must be an RFC 3339 date-time string, not a {_json_kind(value)}; {_EXAMPLE}"
        )
    if _RFC3339.fullmatch(value):
        return value
    if _SPACE_FOR_PLUS.fullmatch(value):
        message = "the offset's '+' arrived as a space: encode it as %2B in a query string"
    elif _NAIVE.fullmatch(value):
        message = "needs a zone offset (Z or +hh:mm); a time without one is ambiguous"
    else:
        message = "is not an RFC 3339 date-time"
    raise PydanticCustomError("datetime_rfc3339", f"{message}; {_EXAMPLE}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "list" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"


def _in_utc_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:30:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST_DATETIME <= utc < LATEST_DATETIME:
        raise PydanticCustomError(
            "datetime_range",
            f"must be from {EARLIEST_DATETIME:%Y-%m-%dT%H:%M:%SZ} up to (excluding) "
            f"{LATEST_DATETIME:%Y-%m-%dT%H:%M:%SZ}",
        )
    return utc


UtcDateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_utc_range)]

DecimalString = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value.normalize(), "f"), return_type=str, when_used="json"),
]


class Priced(Schema):
    """A schema with a `currency` and amounts in it (named in `amounts`): in JSON every amount has
    at least the currency's minor units, as people write money (EUR `1` -> `1.00`, `0.355` stays,
    JPY `308`). One place, so every price, fee and cost the API writes reads the same."""

    amounts: ClassVar[tuple[str, ...]] = ()

    # Unannotated on purpose: a return annotation would replace the model's schema in the document.
    @model_serializer(mode="wrap")
    def _amounts_with_minor_units(  # type: ignore[no-untyped-def]
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ):
        data = handler(self)
        if info.mode_is_json():
            currency = getattr(self, "currency", None)
            for name in self.amounts:
                value = getattr(self, name)
                if value is not None:
                    data[name] = amount_text(value, currency)
        return data


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )
