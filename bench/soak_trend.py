"""The soak's arithmetic, without I/O: a sample of the stack, the least-squares growth of memory, percentiles
of a window (plain, or interpolated in a Prometheus histogram as histogram_quantile does), the drift of a p99
from the first window after warm-up to the last, the verdict, and the terminal chart.

What "flat" means, and why these floors (bench/soak.py writes them with each figure):

- Memory: each service's resident memory, least-squares slope over the second half of the filing time (the
  first half is warm-up: caches, SQLite pages, connection pools and allocator arenas fill there), in MB an
  hour. Floor 10 MB/h: a service at ~150 MB would need a full day of steady load to grow by the size of its
  idle footprint, which a restart-free week of a district's traffic survives; a real leak (a dict keyed by
  dossier, an unbounded cache) at the soak's rate grows far faster. A slope is only judged on at least
  600 s of second half (the 30-minute soak has 900 s): on a shorter span, a megabyte of allocator jitter
  extrapolates to tens of MB an hour.
- Latency: the p99 of the last window of the filing time against the p99 of the first window after warm-up
  (the first 10 % of the filing time); each window is 10 % of the filing time, at least one sample. Floor:
  a ratio of 1.5. A p99 that grew by less than a small absolute slack (25 ms for filing, 250 ms for the
  citizen's notification) passes whatever the ratio: on a shared 2-core machine, 8 ms against 14 ms is
  noise, not drift. A drift is only judged when each window holds at least 50 measurements (fewer, and the
  p99 is the maximum of a handful).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

GROWTH_FLOOR_MB_PER_H = 10.0
DRIFT_FLOOR = 1.5
DRIFT_SLACK_MS = {"filing": 25.0, "notified": 250.0}
MIN_GROWTH_SPAN_S = 600.0
MIN_WINDOW_COUNT = 50
WARMUP_SHARE = 0.1
WINDOW_SHARE = 0.1

Buckets = tuple[tuple[float, float], ...]
"""A Prometheus histogram: (upper bound, cumulative count) pairs in ascending order, +Inf last."""


@dataclass
class Sample:
    """The stack at ``t`` seconds after the load started, and the work of the window that ends there."""

    t: float
    rss_mb: dict[str, float]
    filed: int
    """Dossiers filed since the start (intake's 201 answers to POST /v1/dossiers)."""
    filing: Buckets = ()
    """This window's filings in intake's own latency histogram of POST /v1/dossiers (seconds)."""
    notified_ms: list[float] = field(default_factory=list)
    """This window's dossiers whose citizen was first told of the acceptance: from acceptance to that message
    sent, ms."""

    @property
    def filing_p50_ms(self) -> float | None:
        return bucket_quantile(self.filing, 0.5)

    @property
    def filing_p99_ms(self) -> float | None:
        return bucket_quantile(self.filing, 0.99)

    @property
    def notified_p50_ms(self) -> float | None:
        return percentile(self.notified_ms, 0.5)

    @property
    def notified_p99_ms(self) -> float | None:
        return percentile(self.notified_ms, 0.99)


# ---- statistics ---------------------------------------------------------------------------------------


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ys against xs (0 with fewer than two distinct xs)."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (as `lienthong load` reports its own), None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bucket_count(buckets: Buckets) -> float:
    return buckets[-1][1] if buckets else 0.0


def bucket_quantile(buckets: Buckets, q: float) -> float | None:
    """The ``q`` quantile in ms, interpolated linearly inside its bucket as Prometheus's histogram_quantile
    does (from 0 in the first bucket; the highest finite bound if it falls in +Inf); None of an empty window."""
    total = bucket_count(buckets)
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower * 1000
            inside = count - below
            share = (rank - below) / inside if inside else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, count
    return lower * 1000


def bucket_delta(now: Buckets, before: Buckets) -> Buckets:
    """The observations between two scrapes of one histogram; a counter reset (a restart) counts from 0."""
    if not before or len(before) != len(now) or bucket_count(now) < bucket_count(before):
        return now
    return tuple((bound, count - old) for (bound, count), (_, old) in zip(now, before, strict=True))


def bucket_sum(windows: Iterable[Buckets]) -> Buckets:
    total: dict[float, float] = {}
    for buckets in windows:
        for bound, count in buckets:
            total[bound] = total.get(bound, 0.0) + count
    return tuple(sorted(total.items()))


# ---- growth and drift ---------------------------------------------------------------------------------


def filing_samples(samples: Sequence[Sample], seconds: float, every: float) -> list[Sample]:
    """The samples whose window lies in the filing time (the drain after it is left out)."""
    return [s for s in samples if s.t <= seconds + every / 2]


def growth_mb_per_h(samples: Sequence[Sample], service: str, seconds: float) -> float:
    """The service's memory slope over the second half of the filing time, in MB an hour."""
    half = [s for s in samples if s.t >= seconds / 2]
    return slope([s.t for s in half], [s.rss_mb[service] for s in half]) * 3600


@dataclass(frozen=True)
class Drift:
    series: str
    first_p99_ms: float | None
    last_p99_ms: float | None
    first_count: int
    last_count: int

    @property
    def ratio(self) -> float | None:
        if self.first_p99_ms is None or self.last_p99_ms is None or self.first_p99_ms <= 0:
            return None
        return self.last_p99_ms / self.first_p99_ms

    @property
    def judged(self) -> bool:
        return self.ratio is not None and min(self.first_count, self.last_count) >= MIN_WINDOW_COUNT

    @property
    def flat(self) -> bool | None:
        """None when not judged; else within the ratio, or risen by less than the series' slack."""
        if not self.judged or self.ratio is None or self.first_p99_ms is None or self.last_p99_ms is None:
            return None
        return self.ratio < DRIFT_FLOOR or self.last_p99_ms - self.first_p99_ms < DRIFT_SLACK_MS[self.series]


def windows(samples: Sequence[Sample], seconds: float, every: float) -> tuple[list[Sample], list[Sample]]:
    """The first window after warm-up and the last window of the filing time."""
    warmup = WARMUP_SHARE * seconds
    span = max(every, WINDOW_SHARE * seconds)
    first = [s for s in samples if warmup < s.t <= warmup + span + every / 2]
    last = [s for s in samples if seconds - span < s.t]
    return first, last


def drifts(samples: Sequence[Sample], seconds: float, every: float) -> list[Drift]:
    first, last = windows(filing_samples(samples, seconds, every), seconds, every)
    a, b = bucket_sum(s.filing for s in first), bucket_sum(s.filing for s in last)
    filing = Drift(
        "filing", bucket_quantile(a, 0.99), bucket_quantile(b, 0.99), int(bucket_count(a)), int(bucket_count(b))
    )
    x, y = [v for s in first for v in s.notified_ms], [v for s in last for v in s.notified_ms]
    notified = Drift("notified", percentile(x, 0.99), percentile(y, 0.99), len(x), len(y))
    return [filing, notified]


@dataclass(frozen=True)
class Verdict:
    flat: bool | None
    """True: every judged figure met its floor; False: one did not; None: nothing could be judged."""
    reasons: list[str]


def verdict(growth: Mapping[str, float], growth_span_s: float, found: Sequence[Drift]) -> Verdict:
    reasons: list[str] = []
    judged: list[bool] = []
    if growth_span_s >= MIN_GROWTH_SPAN_S:
        for service, mb_per_h in growth.items():
            judged.append(mb_per_h < GROWTH_FLOOR_MB_PER_H)
            if not judged[-1]:
                reasons.append(f"{service} grows {mb_per_h:.1f} MB/h (floor {GROWTH_FLOOR_MB_PER_H:g})")
    else:
        reasons.append(f"memory not judged: {growth_span_s:.0f} s of second half, {MIN_GROWTH_SPAN_S:.0f} s needed")
    for d in found:
        if d.flat is None:
            reasons.append(
                f"{d.series} p99 not judged: {min(d.first_count, d.last_count)} measurements in a window, "
                f"{MIN_WINDOW_COUNT} needed"
            )
            continue
        judged.append(d.flat)
        if not d.flat:
            reasons.append(
                f"{d.series} p99 drifted ×{d.ratio:.2f}: {d.first_p99_ms:.0f} → {d.last_p99_ms:.0f} ms "
                f"(floor ×{DRIFT_FLOOR:g}, slack {DRIFT_SLACK_MS[d.series]:g} ms)"
            )
    return Verdict(all(judged) if judged else None, reasons)


@dataclass(frozen=True)
class Assessment:
    """Everything the soak judges, from its samples."""

    second_half: list[Sample]
    growth: dict[str, float]
    """MB an hour, by service."""
    drifts: list[Drift]

    @property
    def growth_span_s(self) -> float:
        return self.second_half[-1].t - self.second_half[0].t if self.second_half else 0.0

    @property
    def growth_judged(self) -> bool:
        return self.growth_span_s >= MIN_GROWTH_SPAN_S

    @property
    def verdict(self) -> Verdict:
        return verdict(self.growth, self.growth_span_s, self.drifts)


def assess(samples: Sequence[Sample], services: Iterable[str], seconds: float, every: float) -> Assessment:
    during = filing_samples(samples, seconds, every)
    return Assessment(
        second_half=[s for s in during if s.t >= seconds / 2],
        growth={name: growth_mb_per_h(during, name, seconds) for name in services},
        drifts=drifts(samples, seconds, every),
    )


# ---- terminal chart -----------------------------------------------------------------------------------

BLOCKS = "▁▂▃▄▅▆▇█"


def resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most ``width`` columns: each the mean of its share of the values (None where it has none)."""
    if len(values) <= width:
        return list(values)
    columns: list[float | None] = []
    for c in range(width):
        part = [v for v in values[c * len(values) // width : (c + 1) * len(values) // width] if v is not None]
        columns.append(sum(part) / len(part) if part else None)
    return columns


def sparkline(values: Sequence[float | None], lo: float, hi: float) -> str:
    """One block character a value, from ▁ at ``lo`` to █ at ``hi``; a blank where there is no value."""
    out = []
    for v in values:
        if v is None:
            out.append(" ")
            continue
        share = 0.0 if hi <= lo else (min(max(v, lo), hi) - lo) / (hi - lo)
        out.append(BLOCKS[min(len(BLOCKS) - 1, int(share * len(BLOCKS)))])
    return "".join(out)


def chart(
    title: str,
    series: Mapping[str, Sequence[float | None]],
    *,
    span_s: float,
    width: int = 60,
    zero_based: bool = False,
    min_span: float = 0.0,
) -> str:
    """A title, one sparkline a series with its min and max, and the time axis under them. Each line is scaled
    on its own: from 0 (``zero_based``, for latencies), or over at least ``min_span`` centred on its range (so
    that a megabyte of jitter does not fill the height and a flat line sits half-way up)."""
    name_width = max(len(n) for n in series)
    lines = [title]
    columns = 0
    for name, values in series.items():
        present = [v for v in values if v is not None]
        cells = resample(values, width)
        columns = max(columns, len(cells))
        if not present:
            lines.append(f"  {name:<{name_width}}  {' ' * len(cells)}  no data")
            continue
        low, high = min(present), max(present)
        lo = 0.0 if zero_based else min(low, (low + high - min_span) / 2)
        hi = max(high, lo + min_span)
        lines.append(f"  {name:<{name_width}}  {sparkline(cells, lo, hi)}  min {low:,.1f}  max {high:,.1f}")
    start, end = "0 s", f"{span_s:,.0f} s"
    lines.append(f"  {'':<{name_width}}  {start}{end:>{max(columns - len(start), len(end) + 1)}}")
    return "\n".join(lines)
