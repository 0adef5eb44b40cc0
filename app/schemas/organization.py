import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, StringConstraints

from app.schemas.common import Schema


def _iana_zone(value: str) -> str:
    # zoneinfo also opens file paths and odd spellings; only a listed IANA name is a setting.
    if value not in _zones():
        raise ValueError("not an IANA time zone name (such as Europe/Berlin or UTC)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError("not an IANA time zone name (such as Europe/Berlin or UTC)") from error
    return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_iana_zone),
    Field(description="IANA time zone name", examples=["Europe/Berlin"]),
]


class OrganizationRead(Schema):
    id: uuid.UUID
    name: str
    time_zone: str = Field(description="IANA name; the days, weeks and months of the session reports")
    created_at: datetime


class OrganizationUpdate(Schema):
    time_zone: TimeZoneName
