"""What the soak shows of its samples: the series, the terminal chart, the CSV, the PNG and the figures."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bench.figures import figure
from bench.pipeline_bench import SERVICES
from bench.soak_png import Panel, draw
from bench.soak_trend import (
    DRIFT_FLOOR,
    DRIFT_SLACK_MS,
    GROWTH_FLOOR_MB_PER_H,
    WARMUP_SHARE,
    Sample,
    assess,
    bucket_count,
    chart,
)
from services.loadgen.run import Report

Lines = dict[str, list[float | None]]


def series(samples: list[Sample]) -> tuple[Lines, Lines, Lines]:
    """Memory by service, filing latency and acceptance-to-notification latency, a value a sample."""
    memory: Lines = {name: [s.rss_mb[name] for s in samples] for name in SERVICES}
    filing: Lines = {"filing p50": [s.filing_p50_ms for s in samples], "filing p99": [s.filing_p99_ms for s in samples]}
    notified: Lines = {
        "notified p50": [s.notified_p50_ms for s in samples],
        "notified p99": [s.notified_p99_ms for s in samples],
    }
    return memory, filing, notified


def charts(samples: list[Sample]) -> str:
    memory, filing, notified = series(samples)
    span = samples[-1].t if samples else 0.0
    return "\n".join(
        [
            chart("resident memory, MB", memory, span_s=span, min_span=10.0),
            chart("latency of each window, ms (from 0)", {**filing, **notified}, span_s=span, zero_based=True),
        ]
    )


def write_csv(path: Path, samples: list[Sample]) -> None:
    memory, filing, notified = series(samples)
    latency = {**filing, **notified}
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["t_s", "filed", *(f"rss_{n}_mb" for n in memory), *(n.replace(" ", "_") for n in latency)])
        for i, s in enumerate(samples):
            row = [s.t, s.filed, *(v[i] for v in memory.values()), *(v[i] for v in latency.values())]
            out.writerow(["" if v is None else (round(v, 1) if isinstance(v, float) else v) for v in row])


def figures_of(
    samples: list[Sample], report: Report, seconds: float, every: float, **extra: Any
) -> list[dict[str, Any]]:
    """The figures of var/bench/soak.json; ``extra`` goes with the last, the dossiers' figure."""
    found = assess(samples, SERVICES, seconds, every)
    half, span = found.second_half, found.growth_span_s
    out = [
        figure(
            f"soak_rss_growth_{name}_mb_per_h",
            mb_per_h,
            "MB/h",
            GROWTH_FLOOR_MB_PER_H,
            (mb_per_h < GROWTH_FLOOR_MB_PER_H) if found.growth_judged else None,
            span_s=round(span, 1),
            first_mb=half[0].rss_mb[name] if half else None,
            last_mb=half[-1].rss_mb[name] if half else None,
            peak_mb=max(s.rss_mb[name] for s in samples) if samples else None,
        )
        for name, mb_per_h in found.growth.items()
    ]
    out += [
        figure(
            f"soak_{d.series}_p99_drift",
            d.ratio or 0.0,
            "ratio",
            DRIFT_FLOOR,
            d.flat,
            first_p99_ms=None if d.first_p99_ms is None else round(d.first_p99_ms, 1),
            last_p99_ms=None if d.last_p99_ms is None else round(d.last_p99_ms, 1),
            first_count=d.first_count,
            last_count=d.last_count,
            slack_ms=DRIFT_SLACK_MS[d.series],
        )
        for d in found.drifts
    ]
    out.append(
        figure(
            "soak_dossiers_off_plan",
            report.failed + report.unfinished,
            "dossiers",
            0,
            report.all_ok,
            filed=report.filed,
            finished=report.finished,
            failed=report.failed,
            unfinished=report.unfinished,
            seconds=seconds,
            every_s=every,
            samples=len(samples),
            filing_requests_sampled=int(sum(bucket_count(s.filing) for s in samples)),
            **extra,
        )
    )
    return out


def draw_png(path: Path, samples: list[Sample], seconds: float, title: str) -> None:
    memory, filing, notified = series(samples)
    warmup = WARMUP_SHARE * seconds
    draw(
        path,
        [s.t for s in samples],
        [
            Panel("resident memory", "MB", memory, shade_to_s=seconds / 2, shade_label="warm-up (slope after)"),
            Panel("filing latency, intake's histogram of POST /v1/dossiers", "ms", filing, True, warmup),
            Panel("acceptance to the first message telling the citizen", "ms", notified, True, warmup),
        ],
        title=title,
        filing_s=seconds,
    )
