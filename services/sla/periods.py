"""Report periods: a quarter such as "2023Q1" as a half-open window [from, to) of Vietnam's time.

Two ways to cut a quarter: "calendar" (Q1 = 1 January up to 1 April) and "15th", from the 15th of the
previous quarter's last month to the 14th, inclusive, of this quarter's last month (Q1 2023 = 15
December 2022 up to 15 March 2023), so that a report can be compiled before the quarter ends.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, get_args

from shared.calendar import VIETNAM_TZ as VN_TZ

Window = Literal["calendar", "15th"]
WINDOWS: tuple[str, ...] = get_args(Window)

_PERIOD = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)


def parse_period(period: str) -> tuple[int, int]:
    """ "2023Q1", "2023-q1" → (2023, 1)."""
    match = _PERIOD.fullmatch(period.strip())
    if match is None:
        raise ValueError(f"period {period!r} is not a quarter like '2023Q1' or '2023-Q1'")
    year, quarter = int(match[1]), int(match[2])
    if not 2 <= year <= 9998:
        raise ValueError(f"period {period!r}: the year is out of range")
    return year, quarter


def format_period(year: int, quarter: int) -> str:
    return f"{year:04d}Q{quarter}"


def _check_window(window: str) -> None:
    if window not in WINDOWS:
        raise ValueError(f"window {window!r} is not one of {', '.join(WINDOWS)}")


def _month_start(year: int, month: int, day: int = 1) -> datetime:
    """The given day of a month counted from January of ``year`` (month 0 is December before it, 13 January after)."""
    y, m = divmod(year * 12 + month - 1, 12)
    return datetime(y, m + 1, day, tzinfo=VN_TZ)


def report_window(period: str, window: Window) -> tuple[datetime, datetime]:
    """[from, to) of a quarter, timezone-aware in Asia/Ho_Chi_Minh."""
    _check_window(window)
    year, quarter = parse_period(period)
    last_month = quarter * 3
    if window == "calendar":
        return _month_start(year, last_month - 2), _month_start(year, last_month + 1)
    return _month_start(year, last_month - 3, 15), _month_start(year, last_month, 15)


def period_of(at: datetime, window: Window) -> str:
    """The quarter whose window holds ``at`` (the inverse of :func:`report_window`)."""
    _check_window(window)
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(VN_TZ)
    year, quarter = local.year, (local.month - 1) // 3 + 1
    if window == "15th" and local.month % 3 == 0 and local.day >= 15:
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return format_period(year, quarter)
