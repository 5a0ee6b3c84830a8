"""Business time: adding and counting seconds that fall inside a calendar's working hours.

A calendar has weekly local wall-clock intervals (several a day allowed) in an IANA zone and
holidays (local dates with no business time). Each local interval is turned into two UTC
instants for its date, so a day that gains or loses an hour to daylight saving time has that
much more or less business time: 08:00-12:00 on the night the clocks spring forward is still
four real hours, 01:00-03:00 is one. A boundary that falls in the skipped hour snaps to the
transition instant; one in the repeated hour means its first occurrence. Instants in and out
are aware datetimes; `None` as calendar means around the clock (plain elapsed time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")

Interval = tuple[time, time]


def parse_clock_time(text: str) -> time:
    """Strict `HH:MM` (00:00-23:59), as the API writes business hours."""
    match = _HHMM.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def format_clock_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone, or ValueError (an unknown or malformed name, e.g. "Mars/Base")."""
    try:
        return ZoneInfo(name)
    # OSError: the name is looked up as a file ("Europe" is a directory, a long name is too long).
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone") from exc


def _merged(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping and touching intervals joined (09-12 and 12-18 is 09-18)."""
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if start >= end:
            raise ValueError(f"an interval must start before it ends ({start} - {end})")
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Weekly working hours in a zone, minus holidays. Weekday 0 is Monday."""

    timezone: str
    hours: Mapping[int, Sequence[Interval]]
    holidays: frozenset[date] = frozenset()
    # Normalised form of `hours`: seven tuples of merged intervals, Monday first.
    week: tuple[tuple[Interval, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        zone_of(self.timezone)
        if any(day not in range(7) for day in self.hours):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        week = tuple(_merged(self.hours.get(day, ())) for day in range(7))
        if not any(week):
            # add_business_seconds would never finish: there would be no business time at all.
            raise ValueError("a calendar needs business hours on at least one weekday")
        object.__setattr__(self, "week", week)


def _to_utc(day: date, moment: time, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, moment, tzinfo=zone)  # fold=0: the first of a repeated hour
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # The local time does not exist (skipped when the clocks sprang forward): use the instant
    # of the transition, the first moment after the gap. It lies between the two readings.
    # Transitions happen on whole seconds: bisect on POSIX seconds.
    readings = sorted((int(local.replace(fold=1).astimezone(UTC).timestamp()), int(instant.timestamp())))
    low, high = readings
    after_offset = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=8192)
def _utc_intervals(timezone: str, intervals: tuple[Interval, ...], day: date) -> tuple[tuple[datetime, datetime], ...]:
    """One local date's business intervals as UTC instants, in order and never overlapping."""
    zone = ZoneInfo(timezone)
    result: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        begin, finish = _to_utc(day, start, zone), _to_utc(day, end, zone)
        if result:
            begin = max(begin, result[-1][1])
        if finish > begin:
            result.append((begin, finish))
    return tuple(result)


def _days_from(calendar: BusinessCalendar, first: date) -> Iterable[tuple[date, tuple[tuple[datetime, datetime], ...]]]:
    """Each local date from `first` on with its UTC intervals (holidays have none).

    Stops with ValueError after a stretch with no business time at all that no finite set of
    holidays and DST days could explain (a guard; validation refuses calendars with no hours).
    """
    limit = 7 * (len(calendar.holidays) + 3)
    idle = 0
    day = first
    while True:
        intervals: tuple[tuple[datetime, datetime], ...] = ()
        if day not in calendar.holidays:
            intervals = _utc_intervals(calendar.timezone, calendar.week[day.weekday()], day)
        idle = 0 if intervals else idle + 1
        if idle > limit:
            raise ValueError("the calendar has no business time")
        yield day, intervals
        day += _DAY


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("business time needs aware datetimes")


def add_business_seconds(start: datetime, seconds: int, calendar: BusinessCalendar | None) -> datetime:
    """The earliest instant at which `seconds` of business time have passed since `start`.

    Monotone in both arguments and additive: add(add(t, a), b) == add(t, a + b). A target that
    runs out exactly at closing time is due at closing time, not at the next opening.
    """
    _require_aware(start)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if calendar is None:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    cursor = start.astimezone(UTC)
    if not remaining:
        return cursor
    zone = ZoneInfo(calendar.timezone)
    # Intervals of earlier local dates end by local midnight, so none reaches past `start`.
    for _, intervals in _days_from(calendar, cursor.astimezone(zone).date()):
        for begin, end in intervals:
            if end <= cursor:
                continue
            begin = max(begin, cursor)
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
            cursor = end
    raise AssertionError("unreachable")  # pragma: no cover - _days_from never ends by itself


def _business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    zone = ZoneInfo(calendar.timezone)
    total = timedelta()
    last_day = b.astimezone(zone).date()
    for day, intervals in _days_from(calendar, a.astimezone(zone).date()):
        if day > last_day:
            break
        for begin, end in intervals:
            overlap = min(end, b) - max(begin, a)
            if overlap > timedelta():
                total += overlap
    return total


def business_seconds_between(a: datetime, b: datetime, calendar: BusinessCalendar | None) -> int:
    """Whole business seconds from `a` to `b` (negative when `b` is before `a`, truncated
    towards zero), so that business_seconds_between(t, add_business_seconds(t, n)) == n."""
    _require_aware(a, b)
    if b < a:
        return -business_seconds_between(b, a, calendar)
    elapsed = b - a if calendar is None else _business_time_between(a, b, calendar)
    return elapsed // SECOND
