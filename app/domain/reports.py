"""What a report covers: a period [from, to) and the IANA zone its days are counted in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.domain import validation as v
from app.domain.business_time import zone_of
from app.domain.errors import InvalidInput

MAX_REPORT_DAYS = 366
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    start: datetime
    end: datetime
    timezone: str

    @property
    def first_day(self) -> date:
        return self.start.astimezone(zone_of(self.timezone)).date()

    @property
    def last_day(self) -> date:
        """The local date of the period's last instant (the end itself is excluded)."""
        return (self.end - _MICROSECOND).astimezone(zone_of(self.timezone)).date()


def report_period(start: datetime, end: datetime, timezone: str) -> ReportPeriod:
    """The period, in UTC, or InvalidInput naming every bad argument. A time without a UTC
    offset is read as wall-clock time in the report's zone (midnight there, usually)."""
    try:
        zone = zone_of(timezone)
    except ValueError as exc:
        raise InvalidInput(f"{timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)", ["timezone"]) from exc
    problems = v.Problems()
    start = (start if start.tzinfo else start.replace(tzinfo=zone)).astimezone(UTC)
    end = (end if end.tzinfo else end.replace(tzinfo=zone)).astimezone(UTC)
    if end <= start:
        problems.add("must be after `from`", ["to"])
    elif end - start > timedelta(days=MAX_REPORT_DAYS):
        problems.add(f"a report covers at most {MAX_REPORT_DAYS} days", ["to"])
    problems.raise_if_any()
    return ReportPeriod(start, end, timezone)
