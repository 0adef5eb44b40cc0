"""Shared schema base and reusable field types."""

import unicodedata
from datetime import UTC
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

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

# An input time: must carry a zone offset (RFC 3339), and is kept in UTC from then on.
UtcDateTime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]

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
