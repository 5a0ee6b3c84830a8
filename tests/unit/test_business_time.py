"""Business time: examples, then properties over random calendars and instants (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.business_time import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
    parse_clock_time,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = range(5)


def office(
    zone: str, *intervals: tuple[str, str], days: range = WEEKDAYS, holidays: tuple[str, ...] = ()
) -> BusinessCalendar:
    hours = {d: [(parse_clock_time(a), parse_clock_time(b)) for a, b in intervals] for d in days}
    return BusinessCalendar(zone, hours, frozenset(date.fromisoformat(h) for h in holidays))


SHANGHAI_OFFICE = office("Asia/Shanghai", ("09:00", "12:00"), ("13:00", "18:00"))


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


# ---------------------------------------------------------------- examples


def test_friday_evening_plus_one_hour_is_monday_morning() -> None:
    # 2031-01-03 is a Friday: 30 minutes left that day, 30 more from Monday 09:00.
    friday = local(SHANGHAI, 2031, 1, 3, 17, 30)
    due = add_business_seconds(friday, 3600, SHANGHAI_OFFICE)
    assert due == local(SHANGHAI, 2031, 1, 6, 9, 30)
    assert business_seconds_between(friday, due, SHANGHAI_OFFICE) == 3600


def test_lunch_break_is_not_business_time() -> None:
    morning = local(SHANGHAI, 2031, 1, 6, 11, 30)
    assert add_business_seconds(morning, 3600, SHANGHAI_OFFICE) == local(SHANGHAI, 2031, 1, 6, 13, 30)
    assert business_seconds_between(morning, local(SHANGHAI, 2031, 1, 6, 14, 0), SHANGHAI_OFFICE) == 5400


def test_a_target_that_ends_at_closing_time_is_due_at_closing_time() -> None:
    start = local(SHANGHAI, 2031, 1, 3, 17, 0)
    assert add_business_seconds(start, 3600, SHANGHAI_OFFICE) == local(SHANGHAI, 2031, 1, 3, 18, 0)


def test_starting_outside_hours_counts_from_the_next_opening() -> None:
    saturday = local(SHANGHAI, 2031, 1, 4, 10, 0)
    assert add_business_seconds(saturday, 60, SHANGHAI_OFFICE) == local(SHANGHAI, 2031, 1, 6, 9, 1)
    assert add_business_seconds(saturday, 0, SHANGHAI_OFFICE) == saturday


def test_holidays_are_skipped() -> None:
    calendar = office("Asia/Shanghai", ("09:00", "18:00"), holidays=("2031-01-06", "2031-01-07"))
    friday = local(SHANGHAI, 2031, 1, 3, 17, 0)
    assert add_business_seconds(friday, 2 * 3600, calendar) == local(SHANGHAI, 2031, 1, 8, 10, 0)
    holiday = local(SHANGHAI, 2031, 1, 6, 0, 0)
    assert business_seconds_between(holiday, holiday + timedelta(days=2), calendar) == 0


def test_no_calendar_means_around_the_clock() -> None:
    start = datetime(2031, 1, 3, 17, 30, 15, 500, tzinfo=UTC)
    assert add_business_seconds(start, 90, None) == start + timedelta(seconds=90)
    assert business_seconds_between(start, start + timedelta(hours=2, microseconds=5), None) == 7200
    assert business_seconds_between(start + timedelta(hours=2), start, None) == -7200


def test_spring_forward_day_in_new_york_is_an_hour_short_inside_the_skipped_hour() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT. 01:00-03:00 local is one real hour.
    calendar = office("America/New_York", ("01:00", "03:00"), ("08:00", "12:00"), days=range(7))
    day = local(NEW_YORK, 2026, 3, 8)
    assert business_seconds_between(day, local(NEW_YORK, 2026, 3, 9), calendar) == 5 * 3600
    assert business_seconds_between(local(NEW_YORK, 2026, 3, 7), day, calendar) == 6 * 3600
    # An interval entirely inside the skipped hour has no business time at all that day.
    skipped = office("America/New_York", ("02:15", "02:45"), days=range(7))
    assert business_seconds_between(day, local(NEW_YORK, 2026, 3, 9), skipped) == 0
    assert business_seconds_between(local(NEW_YORK, 2026, 3, 9), local(NEW_YORK, 2026, 3, 10), skipped) == 1800


def test_fall_back_day_in_berlin_is_an_hour_long_inside_the_repeated_hour() -> None:
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET. 02:00-04:00 local is three real hours.
    calendar = office("Europe/Berlin", ("02:00", "04:00"), days=range(7))
    day = local(BERLIN, 2026, 10, 25)
    assert business_seconds_between(day, local(BERLIN, 2026, 10, 26), calendar) == 3 * 3600
    start = local(BERLIN, 2026, 10, 25, 2, 0)
    assert add_business_seconds(start, 3 * 3600, calendar) == local(BERLIN, 2026, 10, 25, 4, 0)


def test_a_calendar_without_hours_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one weekday"):
        BusinessCalendar("Asia/Shanghai", {})
    with pytest.raises(ValueError, match="IANA"):
        BusinessCalendar("Mars/Olympus", {0: [(time(9), time(17))]})
    with pytest.raises(ValueError):
        BusinessCalendar("UTC", {7: [(time(9), time(17))]})


def test_add_terminates_when_holidays_cover_every_open_day_for_weeks() -> None:
    mondays = tuple((date(2031, 1, 6) + timedelta(weeks=w)).isoformat() for w in range(10))
    calendar = office("UTC", ("09:00", "10:00"), days=range(1), holidays=mondays)
    start = datetime(2031, 1, 5, tzinfo=UTC)
    assert add_business_seconds(start, 60, calendar) == datetime(2031, 3, 17, 9, 1, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_seconds(datetime(2031, 1, 1), 1, SHANGHAI_OFFICE)


# ---------------------------------------------------------------- properties

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    zone = draw(st.sampled_from(ZONES))
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)):
        bounds = sorted(draw(st.sets(minutes, min_size=2, max_size=6)))
        pairs = list(zip(bounds[::2], bounds[1::2], strict=False))
        hours[weekday] = [(time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in pairs]
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20))
    return BusinessCalendar(zone, hours, holidays)


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
# Around the DST transitions of New York and Berlin in 2026, where the bugs would be.
dst_instants = st.sampled_from(
    [
        datetime(2026, 3, 8, 7, tzinfo=UTC),
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
    ]
).flatmap(lambda t: st.integers(-36 * 3600, 36 * 3600).map(lambda s: t + timedelta(seconds=s)))
seconds = st.integers(min_value=0, max_value=30 * 24 * 3600)
calendar_or_none = st.one_of(st.none(), calendars())
either_instant = st.one_of(instants, dst_instants)


@settings(max_examples=150, deadline=None)
@given(calendar_or_none, either_instant, seconds)
def test_counting_what_was_added_gives_it_back(calendar: BusinessCalendar | None, t: datetime, n: int) -> None:
    due = add_business_seconds(t, n, calendar)
    assert due >= t
    assert business_seconds_between(t, due, calendar) == n


@settings(max_examples=150, deadline=None)
@given(calendar_or_none, either_instant, seconds, seconds)
def test_adding_is_additive(calendar: BusinessCalendar | None, t: datetime, a: int, b: int) -> None:
    assert add_business_seconds(add_business_seconds(t, a, calendar), b, calendar) == add_business_seconds(
        t, a + b, calendar
    )


@settings(max_examples=150, deadline=None)
@given(calendar_or_none, either_instant, either_instant, seconds, seconds)
def test_adding_is_monotone(calendar: BusinessCalendar | None, t1: datetime, t2: datetime, a: int, b: int) -> None:
    (t1, t2), (a, b) = sorted((t1, t2)), sorted((a, b))
    assert add_business_seconds(t1, a, calendar) <= add_business_seconds(t2, a, calendar)
    assert add_business_seconds(t1, a, calendar) <= add_business_seconds(t1, b, calendar)


@settings(max_examples=150, deadline=None)
@given(calendar_or_none, either_instant, either_instant, either_instant)
def test_counting_is_additive_over_consecutive_spans(
    calendar: BusinessCalendar | None, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    between = business_seconds_between
    # Whole seconds are truncated per span, so the two parts may lose up to a second.
    assert between(a, b, calendar) + between(b, c, calendar) in (between(a, c, calendar), between(a, c, calendar) - 1)
    assert between(c, a, calendar) == -between(a, c, calendar)
    assert 0 <= between(a, c, calendar) <= (c - a).total_seconds()


@settings(max_examples=200, deadline=None)
@given(calendars())
def test_holidays_have_no_business_time(calendar: BusinessCalendar) -> None:
    zone = ZoneInfo(calendar.timezone)
    for holiday in sorted(calendar.holidays)[:5]:
        start = datetime.combine(holiday, time.min, tzinfo=zone)
        end = datetime.combine(holiday + timedelta(days=1), time.min, tzinfo=zone)
        assert business_seconds_between(start, end, calendar) == 0


@settings(max_examples=200, deadline=None)
@given(either_instant, either_instant, seconds)
def test_a_calendar_open_around_the_clock_is_wall_clock_time(t1: datetime, t2: datetime, n: int) -> None:
    # Every weekday 00:00-23:59 in UTC, no holidays: only the last minute of each day is closed.
    always = office("UTC", ("00:00", "23:59"), days=range(7))
    a, b = sorted((t1, t2))
    closed = business_seconds_between(a, b, None) - business_seconds_between(a, b, always)
    assert 0 <= closed <= 60 * ((b - a).days + 2)
    assert add_business_seconds(a, n, None) - a == timedelta(seconds=n)
