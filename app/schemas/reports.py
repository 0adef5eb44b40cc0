import uuid
from datetime import date, datetime

from pydantic import Field

from app.enums import ReportDimension, ReportPeriod
from app.schemas.common import DecimalString, Priced, Schema

REPORT_AMOUNTS = ("cost",)


class ReportRowRead(Priced):
    amounts = REPORT_AMOUNTS

    period_start: date = Field(description="First local day of the period (weeks start on Monday)")
    period_start_at: datetime = Field(description="The period's start as a UTC instant")
    id: uuid.UUID | None = Field(
        description="The user group, charging group or card; null: free charging (user group), "
        "a removed card or an unknown UID (card)"
    )
    name: str | None = Field(description="Name or card label as recorded with the sessions")
    uid: str | None = Field(description="Card UID (group_by=card only)")
    currency: str | None = Field(description="Null for sessions documented without a tariff")
    session_count: int
    energy_kwh: DecimalString
    cost: DecimalString | None = Field(description="Documented cost in `currency`; null without a tariff")


class ReportTotal(Priced):
    amounts = REPORT_AMOUNTS

    currency: str | None
    session_count: int
    energy_kwh: DecimalString
    cost: DecimalString | None


class SessionReport(Schema):
    group_by: ReportDimension
    period: ReportPeriod
    time_zone: str = Field(description="The organization's time zone, in which periods are counted")
    started_from: datetime
    started_until: datetime
    rows: list[ReportRowRead]
    totals: list[ReportTotal] = Field(description="Per currency: the sum of the rows")
