import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import (
    VIETNAM_TZ,
    DaysOff,
    OverridesError,
    WorkingCalendar,
    load_overrides,
    shipped_overrides,
    vietnam_calendar,
)

CAL = vietnam_calendar()
VN = VIETNAM_TZ
PERIOD_MINUTES = [(7 * 60, 11 * 60 + 30), (13 * 60 + 30, 17 * 60)]
PERIOD_ENDS = {end for _, end in PERIOD_MINUTES}


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


def minute_of(at: datetime) -> int:
    local = at.astimezone(VN)
    return local.hour * 60 + local.minute


def is_working_minute(at: datetime) -> bool:
    """Independent of the calendar's tables: the minute starting at ``at`` is worked."""
    local = at.astimezone(VN)
    return CAL.is_working_day(local.date()) and any(s <= minute_of(local) < e for s, e in PERIOD_MINUTES)


def ceil_minute(at: datetime) -> datetime:
    floored = at.replace(second=0, microsecond=0)
    return floored if floored == at else floored + timedelta(minutes=1)


# -- known dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 1), False),  # Tết Dương lịch
        (date(2026, 1, 2), False),  # swapped with Sat 10 Jan
        (date(2026, 1, 10), True),
        *((date(2026, 2, d), False) for d in range(14, 23)),  # Tết Bính Ngọ, Sat 14 – Sun 22 Feb
        (date(2026, 2, 13), True),
        (date(2026, 2, 23), True),
        (date(2026, 4, 26), False),  # Giỗ Tổ Hùng Vương, a Sunday
        (date(2026, 4, 27), False),  # ... observed on Monday
        (date(2026, 4, 30), False),
        (date(2026, 5, 1), False),
        (date(2026, 8, 22), True),  # Saturday worked for Mon 31 Aug
        (date(2026, 8, 31), False),
        (date(2026, 9, 1), False),
        (date(2026, 9, 2), False),
        (date(2026, 9, 3), True),
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 3, 8), False),  # an ordinary Sunday
        (date(2026, 3, 9), True),
        *((date(2025, 1, d), False) for d in range(27, 32)),  # Tết Ất Tỵ
        (date(2025, 2, 3), True),
        (date(2025, 4, 7), False),  # Giỗ Tổ Hùng Vương 2025
        (date(2025, 4, 26), True),  # Saturday worked for Fri 2 May
        (date(2025, 4, 30), False),
        (date(2025, 5, 1), False),
        (date(2025, 5, 2), False),
        (date(2025, 9, 1), False),
        (date(2025, 9, 2), False),
        (date(2024, 5, 4), True),  # Saturday worked for Mon 29 Apr 2024
        (date(2024, 4, 29), False),
    ],
)
def test_known_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        (vn(2026, 2, 13, 15, 0), 1, vn(2026, 2, 23, 15, 0)),  # across Tết
        (vn(2026, 2, 13, 7, 0), 1, vn(2026, 2, 13, 17, 0)),  # a whole day ends at its close
        (vn(2026, 8, 21, 15, 0), 1, vn(2026, 8, 22, 15, 0)),  # onto the worked Saturday
        (vn(2026, 8, 28, 9, 0), 1, vn(2026, 9, 3, 9, 0)),  # over Mon 31 Aug and 1–2 Sep
        (vn(2026, 4, 24, 10, 0), 1, vn(2026, 4, 28, 10, 0)),  # over the observed Hùng Kings' day
        (vn(2026, 4, 29, 16, 0), 1, vn(2026, 5, 4, 16, 0)),  # over 30/4–1/5
        (vn(2025, 4, 25, 8, 0), 1, vn(2025, 4, 26, 8, 0)),  # Saturday 26 Apr 2025 is worked
        (vn(2025, 4, 29, 8, 0), 1, vn(2025, 5, 5, 8, 0)),  # 30/4, 1/5, 2/5 off
        (vn(2026, 3, 6, 8, 0), 5, vn(2026, 3, 13, 8, 0)),
        (vn(2026, 3, 6, 8, 0), 0.25, vn(2026, 3, 6, 10, 0)),
        (vn(2026, 3, 6, 8, 0), 0.5, vn(2026, 3, 6, 14, 0)),
    ],
)
def test_known_deadlines(start: datetime, days: float, deadline: datetime) -> None:
    assert CAL.add_working_days(start, days) == deadline
    assert CAL.working_minutes_between(start, deadline) == CAL.days_to_minutes(days)


def test_a_count_that_ends_with_a_period_stays_at_its_end() -> None:
    assert CAL.add_working_minutes(vn(2026, 3, 9, 10, 30), 60) == vn(2026, 3, 9, 11, 30)
    assert CAL.add_working_minutes(vn(2026, 3, 9, 10, 30), 61) == vn(2026, 3, 9, 13, 31)
    assert CAL.add_working_minutes(vn(2026, 3, 9, 11, 30), 1) == vn(2026, 3, 9, 13, 31)
    assert CAL.add_working_hours(vn(2026, 3, 6, 16, 0), 1) == vn(2026, 3, 6, 17, 0)
    assert CAL.add_working_hours(vn(2026, 3, 6, 16, 0), 2) == vn(2026, 3, 9, 8, 0)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (vn(2026, 3, 9, 9, 15), vn(2026, 3, 9, 9, 15)),
        (vn(2026, 3, 9, 6, 0), vn(2026, 3, 9, 7, 0)),
        (vn(2026, 3, 9, 11, 30), vn(2026, 3, 9, 13, 30)),
        (vn(2026, 3, 9, 12, 0), vn(2026, 3, 9, 13, 30)),
        (vn(2026, 3, 6, 17, 0), vn(2026, 3, 9, 7, 0)),
        (vn(2026, 2, 15, 10, 0), vn(2026, 2, 23, 7, 0)),
        (vn(2026, 3, 9, 9, 0, second=20), vn(2026, 3, 9, 9, 1)),  # seconds count from the next minute
    ],
)
def test_next_working_instant(at: datetime, expected: datetime) -> None:
    assert CAL.next_working_instant(at) == expected


@pytest.mark.parametrize(
    ("accepted", "clock_start"),
    [
        (vn(2026, 3, 9, 15, 0), vn(2026, 3, 9, 15, 0)),
        (vn(2026, 3, 9, 15, 0, second=1), vn(2026, 3, 10, 7, 0)),
        (vn(2026, 3, 9, 14, 59, second=59), vn(2026, 3, 9, 15, 0)),
        (vn(2026, 3, 9, 16, 30), vn(2026, 3, 10, 7, 0)),
        (vn(2026, 8, 21, 15, 30), vn(2026, 8, 22, 7, 0)),  # next working day is the swapped Saturday
        (vn(2026, 4, 29, 15, 1), vn(2026, 5, 4, 7, 0)),
        (vn(2026, 3, 7, 10, 0), vn(2026, 3, 9, 7, 0)),
        (datetime(2026, 3, 9, 8, 30, tzinfo=UTC), vn(2026, 3, 10, 7, 0)),  # 15:30 in Hà Nội
    ],
)
def test_clock_starts_next_working_day_after_15h(accepted: datetime, clock_start: datetime) -> None:
    assert CAL.clock_start(accepted) == clock_start


def test_working_minutes_between() -> None:
    assert CAL.working_minutes_between(vn(2026, 3, 9, 7, 0), vn(2026, 3, 9, 17, 0)) == 480
    assert CAL.working_minutes_between(vn(2026, 3, 9, 17, 0), vn(2026, 3, 9, 7, 0)) == -480
    assert CAL.working_minutes_between(vn(2026, 3, 9, 11, 0), vn(2026, 3, 9, 14, 0)) == 60
    assert CAL.working_minutes_between(vn(2026, 2, 13, 7, 0), vn(2026, 2, 23, 17, 0)) == 960


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        (vn(2026, 3, 9, 9, 0), 3, vn(2026, 3, 12, 17, 0)),
        (vn(2026, 3, 9, 9, 0), 5, vn(2026, 3, 16, 17, 0)),  # Sat 14 → Mon 16
        (vn(2026, 8, 20, 9, 0), 9, vn(2026, 9, 3, 17, 0)),  # Sat 29 Aug … Wed 2 Sep off
        (vn(2026, 8, 12, 9, 0), 10, vn(2026, 8, 22, 17, 0)),  # the worked Saturday
        (vn(2026, 2, 6, 9, 0), 10, vn(2026, 2, 23, 17, 0)),
    ],
)
def test_calendar_day_deadlines_move_off_days_off(start: datetime, days: int, deadline: datetime) -> None:
    assert CAL.add_calendar_days(start, days) == deadline


def test_results_are_in_the_calendar_zone() -> None:
    result = CAL.add_working_hours(datetime(2026, 3, 9, 1, 0, tzinfo=UTC), 1)
    assert result == vn(2026, 3, 9, 9, 0)
    assert result.tzinfo is VN


def test_naive_instants_and_partial_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_days(datetime(2026, 3, 9, 9, 0), 1)
    with pytest.raises(ValueError, match="whole minutes"):
        CAL.add_working_days(vn(2026, 3, 9, 9, 0), 0.001)


def test_the_range_extends_both_ways() -> None:
    start = vn(2026, 3, 9, 9, 0)
    far = CAL.add_working_days(start, 12_000)
    assert far.year > 2070
    assert CAL.working_minutes_between(start, far) == 12_000 * 480
    back = CAL.add_working_days(start, -6_000)
    assert back.year < 2003
    assert CAL.working_minutes_between(back, start) == 6_000 * 480


def test_configurable_periods_keep_hours_per_day() -> None:
    cal = WorkingCalendar(DaysOff(), periods=[(time(8, 0), time(12, 0))], hours_per_day=8)
    assert cal.add_working_days(vn(2026, 3, 9, 8, 0), 1) == vn(2026, 3, 10, 12, 0)
    assert cal.add_working_hours(vn(2026, 3, 13, 11, 0), 2) == vn(2026, 3, 16, 9, 0)
    assert cal.add_calendar_days(vn(2026, 3, 9, 8, 0), 1) == vn(2026, 3, 10, 12, 0)
    with pytest.raises(ValueError, match="ordered"):
        WorkingCalendar(periods=[(time(13, 0), time(17, 0)), (time(7, 0), time(11, 0))])


def test_package_swaps_have_their_worked_saturday() -> None:
    for day, name in holidays.country_holidays("VN", years=range(2024, 2027), language="vi").items():
        assert not CAL.is_working_day(day), name
        for swapped in re.findall(r"thay cho ngày (\d{2})/(\d{2})/(\d{4})", name):
            worked = date(int(swapped[2]), int(swapped[1]), int(swapped[0]))
            assert CAL.is_working_day(worked), f"{day} {name}"


def test_shipped_overrides_say_what_each_entry_rests_on() -> None:
    overrides = shipped_overrides()
    assert {d.year for d in overrides.days_off} >= {2025, 2026}
    assert all(d.weekday() == 5 for d in overrides.working_days)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def entry(day: str, name: str = "Ngày thử") -> dict[str, str]:
    return {"date": day, "name": name, "source": "tệp danh mục thử"}


def test_a_catalogue_overrides_file_wins_date_by_date(tmp_path: Path) -> None:
    path = write(
        tmp_path / "calendar.json",
        {"years": {"2026": {"days_off": [entry("2026-08-22"), entry("2026-12-31")], "working_days": []}}},
    )
    cal = vietnam_calendar(path)
    assert not cal.is_working_day(date(2026, 8, 22))
    assert not cal.is_working_day(date(2026, 12, 31))
    assert not cal.is_working_day(date(2026, 2, 16))  # the shipped list still holds
    assert cal.add_working_days(vn(2026, 12, 30, 9, 0), 1) == vn(2027, 1, 4, 9, 0)


@pytest.mark.parametrize(
    "document",
    [
        {"years": {"2026": {"days_off": [entry("2025-12-31")]}}},
        {"years": {"2026": {"days_off": [{"date": "2026-01-05", "name": "x"}]}}},
        {"years": {"2026": {"days_off": [entry("2026-01-05")], "working_days": [entry("2026-01-05")]}}},
        {"years": {"2026": {"holidays": []}}},
        {"years": {"26": {"days_off": []}}},
        {"days_off": []},
    ],
)
def test_bad_overrides_files_are_refused(tmp_path: Path, document: dict[str, Any]) -> None:
    with pytest.raises(OverridesError):
        load_overrides(write(tmp_path / "bad.json", document))


def test_bulk_path_matches_the_per_call_path() -> None:
    np = pytest.importorskip("numpy")
    from shared.calendar.bulk import add_working_days_bulk

    rng = np.random.default_rng(7)
    low, high = np.datetime64("2024-06-01", "s").astype(np.int64), np.datetime64("2027-06-01", "s").astype(np.int64)
    instants = rng.integers(low, high, 3000).astype("datetime64[s]")
    days = rng.integers(-40, 40, 3000)
    results = add_working_days_bulk(CAL, instants, days)
    for instant, count, result in zip(instants.tolist(), days.tolist(), results.tolist(), strict=True):
        expected = CAL.add_working_days(instant.replace(tzinfo=UTC), count)
        assert result.replace(tzinfo=UTC) == expected


# -- properties --------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.sampled_from([VN, UTC])
)
counts = st.integers(min_value=-20_000, max_value=20_000)
FAST = settings(max_examples=300, deadline=None)


@FAST
@given(instants, counts)
def test_add_then_diff_gives_back_the_count(at: datetime, minutes: int) -> None:
    assert CAL.working_minutes_between(at, CAL.add_working_minutes(at, minutes)) == minutes


@FAST
@given(instants, counts, counts)
def test_deadlines_grow_with_the_count(at: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert CAL.add_working_minutes(at, low) <= CAL.add_working_minutes(at, high)


@FAST
@given(instants, instants, counts)
def test_deadlines_grow_with_the_start(a: datetime, b: datetime, minutes: int) -> None:
    early, late = sorted((a, b))
    assert CAL.add_working_minutes(early, minutes) <= CAL.add_working_minutes(late, minutes)


@FAST
@given(instants, counts)
def test_a_deadline_is_never_in_a_break_nor_on_a_day_off(at: datetime, minutes: int) -> None:
    deadline = CAL.add_working_minutes(at, minutes)
    assert CAL.is_working_day(deadline.date())
    assert is_working_minute(deadline) or minute_of(deadline) in PERIOD_ENDS
    if minutes >= 0:
        assert deadline >= at
    if minutes == 0:
        assert is_working_minute(deadline)


@FAST
@given(instants, st.integers(min_value=0, max_value=60))
def test_calendar_day_deadline_is_the_first_working_day_from_the_date(at: datetime, days: int) -> None:
    deadline = CAL.add_calendar_days(at, days)
    due = at.astimezone(VN).date() + timedelta(days=days)
    assert CAL.is_working_day(deadline.date())
    assert deadline.time() == time(17, 0)
    assert all(not CAL.is_working_day(due + timedelta(days=d)) for d in range((deadline.date() - due).days))


@settings(max_examples=60, deadline=None)
@given(instants, st.integers(min_value=0, max_value=1500))
def test_agrees_with_counting_minute_by_minute(at: datetime, minutes: int) -> None:
    cursor, counted = ceil_minute(at), 0
    while counted < minutes or (minutes == 0 and not is_working_minute(cursor)):
        counted += is_working_minute(cursor)
        cursor += timedelta(minutes=1)
    assert CAL.add_working_minutes(at, minutes) == cursor


@FAST
@given(instants, instants, instants)
def test_working_time_adds_up(a: datetime, b: datetime, c: datetime) -> None:
    between = CAL.working_minutes_between
    assert between(a, b) + between(b, c) == between(a, c)
