"""Deadlines per second: the working calendar against numpy.busday_offset.

Adds N working days (N uniform in 1..30) to a million random instants of 2025–2026 three ways:
(a) ``WorkingCalendar.add_working_days``, one call per deadline; (b) ``add_working_days_bulk``
on the whole array; (c) ``numpy.busday_offset`` on the instants' local dates with the same days
off (day precision only, and it cannot express a worked Saturday). The floor: at least as fast
as numpy.busday_offset on the same input. Prints a table and writes var/bench/calendar.json.

    .venv/bin/python bench/calendar_bench.py [--count 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.figures import BENCH_DIR
from shared.calendar import VIETNAM_TZ, WorkingCalendar, vietnam_calendar
from shared.calendar.bulk import add_working_days_bulk

OUTPUT = BENCH_DIR / "calendar.json"
FLOOR = "at least as fast as numpy.busday_offset on the same input"
UTC_OFFSET = np.timedelta64(7, "h")
RUNS = 5


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float
    """The median of the runs."""
    count: int
    runs: int = 1
    spread_s: float = 0.0
    """The slowest run less the fastest."""

    @classmethod
    def of(cls, name: str, seconds: list[float], count: int) -> Timing:
        return cls(name, statistics.median(seconds), count, len(seconds), max(seconds) - min(seconds))

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def ns_each(self) -> float:
        return self.seconds / self.count * 1e9


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed_runs(runs: int, work: Callable[[], Any]) -> list[float]:
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        found.append(time.perf_counter() - started)
    return found


def per_call(calendar: WorkingCalendar, instants: list[datetime], days: list[int]) -> tuple[float, list[datetime]]:
    results: list[datetime] = []
    add = calendar.add_working_days
    step = max(len(instants) // 10, 1)
    elapsed = 0.0
    for start in range(0, len(instants), step):
        chunk = zip(instants[start : start + step], days[start : start + step], strict=True)
        started = time.perf_counter()
        results.extend([add(at, n) for at, n in chunk])
        elapsed += time.perf_counter() - started
        progress(f"  per call: {len(results):>9,} deadlines, {elapsed:.1f} s")
    return elapsed, results


def busday_calendar(calendar: WorkingCalendar, first: date, last: date) -> np.busdaycalendar:
    """Weekdays off between the two dates, as numpy holidays; worked Saturdays are lost."""
    index = calendar.index_covering(first.toordinal(), last.toordinal())
    working = set(index.ordinals)
    weekdays_off = [
        date.fromordinal(o)
        for o in range(first.toordinal(), last.toordinal() + 1)
        if o not in working and date.fromordinal(o).weekday() < 5
    ]
    return np.busdaycalendar(weekmask="1111100", holidays=np.array(weekdays_off, dtype="datetime64[D]"))


def figures(timings: list[Timing], reference: Timing, judged: Timing) -> list[dict[str, Any]]:
    """Each timing's figures; only ``judged`` (the bulk path) is held to the floor: ``reference``'s speed."""
    records: list[dict[str, Any]] = []
    for timing in timings:
        unjudged = timing is not judged
        spread = {"runs": timing.runs, "spread_pct": round(100 * timing.spread_s / timing.seconds, 1)}
        records += [
            {
                "name": f"{timing.name}.deadlines_per_second",
                "value": round(timing.per_second),
                "unit": "deadlines/s",
                "floor": None if unjudged else round(reference.per_second),
                "floor_met": None if unjudged else timing.per_second >= reference.per_second,
                **spread,
            },
            {
                "name": f"{timing.name}.ns_per_deadline",
                "value": round(timing.ns_each, 1),
                "unit": "ns",
                "floor": None if unjudged else round(reference.ns_each, 1),
                "floor_met": None if unjudged else timing.ns_each <= reference.ns_each,
                **spread,
            },
        ]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    progress("building the calendar")
    calendar = vietnam_calendar()
    rng = np.random.default_rng(args.seed)
    low, high = (np.datetime64(d, "s").astype(np.int64) for d in ("2025-01-01", "2027-01-01"))
    instants: npt.NDArray[np.datetime64] = rng.integers(low, high, args.count).astype("datetime64[s]")
    days = rng.integers(1, 31, args.count)

    progress(f"(a) per call on {args.count:,} instants")
    aware = [at.replace(tzinfo=UTC) for at in instants.tolist()]
    seconds, results = per_call(calendar, aware, days.tolist())
    timed_per_call = Timing("calendar.add_working_days.per_call", seconds, args.count)

    progress(f"(b) bulk, median of {RUNS}")
    add_working_days_bulk(calendar, instants[:1000], days[:1000])
    bulk = add_working_days_bulk(calendar, instants, days)
    timed_bulk = Timing.of(
        "calendar.add_working_days_bulk",
        timed_runs(RUNS, lambda: add_working_days_bulk(calendar, instants, days)),
        args.count,
    )
    per_call_results = np.array([r.astimezone(UTC).replace(tzinfo=None) for r in results], dtype="datetime64[m]")
    mismatches = int(np.count_nonzero(per_call_results != bulk))
    progress(f"  bulk and per-call deadlines differ on {mismatches} of {args.count:,}")

    progress(f"(c) numpy.busday_offset, median of {RUNS}")
    local_dates = (instants + UTC_OFFSET).astype("datetime64[D]")
    numpy_calendar = busday_calendar(calendar, date(2024, 1, 1), date(2028, 12, 31))
    timed_numpy = Timing.of(
        "numpy.busday_offset",
        timed_runs(RUNS, lambda: np.busday_offset(local_dates, days, roll="forward", busdaycal=numpy_calendar)),
        args.count,
    )

    timings = [timed_per_call, timed_bulk, timed_numpy]
    print(f"\n{args.count:,} deadlines, N working days uniform in 1..30, instants in 2025–2026 ({VIETNAM_TZ})")
    print(f"{'path':<40} {'deadlines/s':>14} {'ns/deadline':>12} {'spread':>8} {'× numpy speed':>14}")
    for timing in timings:
        ratio = timed_numpy.ns_each / timing.ns_each
        spread = f"{100 * timing.spread_s / timing.seconds:.1f}%" if timing.runs > 1 else "1 run"
        print(f"{timing.name:<40} {timing.per_second:>14,.0f} {timing.ns_each:>12,.1f} {spread:>8} {ratio:>14.2f}")
    print(f"floor ({FLOOR}): bulk {'met' if timed_bulk.ns_each <= timed_numpy.ns_each else 'NOT met'}")
    if mismatches:
        print(f"bulk and per-call disagree on {mismatches} deadlines")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures(timings, timed_numpy, timed_bulk), indent=2) + "\n", encoding="utf-8")
    print(f"written {args.output}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
