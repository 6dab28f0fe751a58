"""Appointments across weekends, the 15:00 rule, the 2026 Tết week and the 22/31 August 2026 swap."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.intake.appointment import appointment_for
from shared.calendar import vietnam_calendar
from shared.events.dossier import StatutoryTime, TimeUnit

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = vietnam_calendar()


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN)


def days(n: float, unit: TimeUnit = TimeUnit.WORKING_DAYS) -> StatutoryTime:
    return StatutoryTime(amount=n, unit=unit)


@pytest.mark.parametrize(
    ("accepted", "statutory", "starts", "due"),
    [
        # Friday morning + 3 working days, across the weekend and Vietnam Culture Day (Tue 24 Nov, off from
        # 2026) → Thursday, same time.
        (at(2026, 11, 20, 9), days(3), at(2026, 11, 20, 9), at(2026, 11, 26, 9)),
        (at(2026, 10, 9, 9), days(3), at(2026, 10, 9, 9), at(2026, 10, 14, 9)),
        # 15:00 sharp still counts that day; 15:01 starts the next working day (Monday after a Friday).
        (at(2026, 11, 20, 15, 0), days(1), at(2026, 11, 20, 15), at(2026, 11, 23, 15)),
        (at(2026, 11, 20, 15, 1), days(1), at(2026, 11, 23, 7), at(2026, 11, 23, 17)),
        # Accepted on a Saturday: the clock starts Monday 07:00.
        (at(2026, 11, 21, 9), days(0.5), at(2026, 11, 23, 7), at(2026, 11, 23, 11)),
        # Tết 2026: Mon 16 – Fri 20 Feb off. Friday 13 Feb 10:00 + 2 days → Tue 24 Feb 10:00.
        (at(2026, 2, 13, 10), days(2), at(2026, 2, 13, 10), at(2026, 2, 24, 10)),
        # Sat 22 Aug 2026 is worked, Mon 31 Aug is off: Fri 21 Aug 16:00 + 1 day → Sat 22 Aug 16:00.
        (at(2026, 8, 21, 14), days(1), at(2026, 8, 21, 14), at(2026, 8, 22, 14)),
        (at(2026, 8, 28, 9), days(1), at(2026, 8, 28, 9), at(2026, 9, 3, 9)),
        # Within the day.
        (at(2026, 11, 23, 8), days(0), at(2026, 11, 23, 8), at(2026, 11, 23, 17)),
        # Calendar days never end on a day off: 10 calendar days from Tue 10 Feb 2026 → Fri 20 Feb is Tết,
        # so the result moves to the next working day.
        (at(2026, 2, 10, 9), days(10, TimeUnit.CALENDAR_DAYS), at(2026, 2, 10, 9), at(2026, 2, 23, 17)),
    ],
)
def test_known_appointments(accepted: datetime, statutory: StatutoryTime, starts: datetime, due: datetime) -> None:
    result = appointment_for(CAL, accepted, statutory)
    assert result.clock_starts_at == starts
    assert result.due_at == due
