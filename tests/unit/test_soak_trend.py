"""The soak's arithmetic and drawing (bench/soak_trend.py, bench/soak_png.py): least-squares growth, window
percentiles, drift, the verdict, the terminal chart to the character, and a PNG read back with pillow; and what
its probe makes of intake's metrics and of small stand-ins for intake's and notify's tables."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from bench.soak import cpu_figures, default_rate
from bench.soak_png import BACKGROUND, PALETTE, SIZE, Panel, draw, nice_ticks
from bench.soak_probe import NotifiedLatency, filing_metrics
from bench.soak_trend import (
    Buckets,
    Drift,
    Sample,
    assess,
    bucket_delta,
    bucket_quantile,
    bucket_sum,
    chart,
    drifts,
    growth_mb_per_h,
    percentile,
    resample,
    slope,
    sparkline,
    verdict,
)

INF = float("inf")


def sample(t: float, mb: float = 100.0, *, filing: Buckets = (), notified: list[float] | None = None) -> Sample:
    return Sample(t=t, rss_mb={"intake": mb}, filed=0, filing=filing, notified_ms=notified or [])


# ---- statistics ---------------------------------------------------------------------------------------


def test_slope_is_the_least_squares_fit() -> None:
    assert slope([0, 1, 2, 3], [3, 5, 7, 9]) == pytest.approx(2.0)
    assert slope([0, 1, 2, 3], [1, 3, 1, 3]) == pytest.approx(0.4)  # noise around a flat line: a small slope
    assert slope([5], [1]) == 0.0 and slope([2, 2], [1, 9]) == 0.0
    with pytest.raises(ValueError):
        slope([1, 2], [1])


def test_growth_is_fitted_over_the_second_half_only_in_mb_an_hour() -> None:
    # Warm-up: 50 MB in the first half; then 1 MB every 360 s, i.e. 10 MB an hour.
    samples = [sample(t, 50.0 + t / 18) for t in range(0, 900, 10)]
    samples += [sample(t, 100.0 + (t - 900) / 360) for t in range(900, 1801, 10)]
    assert growth_mb_per_h(samples, "intake", 1800) == pytest.approx(10.0)
    assert growth_mb_per_h([sample(t, 120.0) for t in range(0, 1801, 10)], "intake", 1800) == 0.0


def test_percentile_is_nearest_rank_and_none_of_nothing() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([float(v) for v in range(1, 101)], 0.99) == 100.0
    assert percentile([], 0.99) is None


def test_bucket_quantile_interpolates_inside_the_bucket_as_prometheus_does() -> None:
    buckets = ((0.01, 50.0), (0.1, 100.0), (INF, 100.0))
    assert bucket_quantile(buckets, 0.5) == pytest.approx(10.0)  # the top of the first bucket, in ms
    assert bucket_quantile(buckets, 0.75) == pytest.approx(55.0)  # half-way through 10..100 ms
    assert bucket_quantile(((0.01, 0.0), (0.1, 1.0), (INF, 10.0)), 0.99) == pytest.approx(100.0)  # +Inf: top bound
    assert bucket_quantile((), 0.99) is None
    assert bucket_quantile(((0.01, 0.0), (INF, 0.0)), 0.5) is None


def test_bucket_windows_subtract_and_add_and_survive_a_restart() -> None:
    before = ((0.01, 5.0), (0.1, 8.0), (INF, 9.0))
    now = ((0.01, 7.0), (0.1, 12.0), (INF, 13.0))
    assert bucket_delta(now, before) == ((0.01, 2.0), (0.1, 4.0), (INF, 4.0))
    assert bucket_delta(now, ()) == now
    restarted = ((0.01, 1.0), (0.1, 1.0), (INF, 1.0))
    assert bucket_delta(restarted, before) == restarted
    assert bucket_sum([before, now]) == ((0.01, 12.0), (0.1, 20.0), (INF, 22.0))


# ---- drift and verdict --------------------------------------------------------------------------------


def test_drift_is_the_ratio_of_the_p99s_with_a_slack_for_small_latencies() -> None:
    assert Drift("notified", 400.0, 500.0, 60, 60).ratio == pytest.approx(1.25)
    assert Drift("notified", 400.0, 500.0, 60, 60).flat is True
    assert Drift("notified", 400.0, 800.0, 60, 60).flat is False
    assert Drift("filing", 8.0, 20.0, 60, 60).flat is True  # ×2.5 but 12 ms: noise
    assert Drift("filing", 40.0, 80.0, 60, 60).flat is False
    assert Drift("filing", 40.0, 80.0, 60, 49).flat is None  # too few in a window to judge
    assert Drift("filing", None, 80.0, 0, 60).ratio is None


def test_drifts_compare_the_first_window_after_warm_up_with_the_last_of_the_filing_time() -> None:
    fast, slow = ((0.01, 100.0), (INF, 100.0)), ((0.01, 0.0), (0.1, 100.0), (INF, 100.0))
    samples = [
        sample(t, filing=slow if t <= 10 or t > 100 else fast, notified=[float(t)] * 60) for t in range(10, 131, 10)
    ]
    filing, notified = drifts(samples, seconds=100, every=10)
    # Warm-up is 10 s and each window 10 s: the sample at 20 s is the first window, the one at 100 s the last;
    # the drain after 100 s is not the filing time.
    assert filing.first_p99_ms == pytest.approx(9.9) and filing.last_p99_ms == pytest.approx(9.9)  # not 99.1
    assert (filing.first_count, filing.last_count) == (100, 100)
    assert (notified.first_p99_ms, notified.last_p99_ms, notified.ratio) == (20.0, 100.0, 5.0)


def test_the_verdict_judges_what_can_be_judged_and_says_why_not_the_rest() -> None:
    flat = [Drift("filing", 10.0, 12.0, 100, 100), Drift("notified", 400.0, 450.0, 100, 100)]
    assert verdict({"intake": 2.0, "sla": 9.9}, 900, flat).flat is True
    grown = verdict({"intake": 2.0, "sla": 25.0}, 900, flat)
    assert grown.flat is False and grown.reasons == ["sla grows 25.0 MB/h (floor 10)"]
    short = verdict({"sla": 25.0}, 60, flat)
    assert short.flat is True and short.reasons == ["memory not judged: 60 s of second half, 600 s needed"]
    nothing = verdict({"sla": 25.0}, 60, [Drift("filing", 10.0, 90.0, 10, 10)])
    assert nothing.flat is None
    assert nothing.reasons[1] == "filing p99 not judged: 10 measurements in a window, 50 needed"
    drifted = verdict({}, 900, [Drift("notified", 400.0, 900.0, 100, 100)])
    assert drifted.reasons == ["notified p99 drifted ×2.25: 400 → 900 ms (floor ×1.5, slack 250 ms)"]


def test_assess_fits_memory_on_the_second_half_of_the_filing_time() -> None:
    samples = [sample(t, 100.0 + t / 300) for t in range(10, 1201, 10)]  # 12 MB/h throughout, 1200 s filing
    samples += [sample(t, 50.0) for t in range(1210, 1400, 10)]  # the drain: left out
    found = assess(samples, ["intake"], seconds=1200, every=10)
    assert found.growth["intake"] == pytest.approx(12.0)
    assert found.growth_span_s == 600 and found.growth_judged
    assert found.verdict.flat is False


# ---- terminal chart -----------------------------------------------------------------------------------


def test_sparkline_and_resample() -> None:
    assert sparkline([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 0, 8) == "▁▂▃▄▅▆▇██"
    assert sparkline([3.0, None, -1.0, 99.0], 0, 8) == "▄ ▁█"
    assert sparkline([5.0, 5.0], 5, 5) == "▁▁"
    assert resample([float(v) for v in range(10)], 5) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert resample([1.0, None, None, None], 2) == [1.0, None]
    assert resample([1.0, 2.0], 60) == [1.0, 2.0]


def test_chart_draws_a_line_a_series_with_its_min_max_and_the_time_axis() -> None:
    text = chart("mem", {"a": [1.0, 2.0, 3.0, 4.0], "bb": [5.0, None, 5.0, 5.0]}, span_s=30, min_span=2.0)
    assert text == "mem\n  a   ▁▃▆█  min 1.0  max 4.0\n  bb  ▅ ▅▅  min 5.0  max 5.0\n      0 s 30 s"
    latency = chart("ms", {"p99": [10.0, 20.0, 40.0, None], "x": [None, None]}, span_s=1800, zero_based=True)
    assert latency == "ms\n  p99  ▃▅█   min 10.0  max 40.0\n  x        no data\n       0 s 1,800 s"


def test_chart_resamples_a_long_series_to_its_width() -> None:
    text = chart("m", {"s": [float(v) for v in range(120)]}, span_s=1200, width=8)
    assert text.splitlines()[1] == "  s  ▁▂▃▄▅▆▇█  min 0.0  max 119.0"
    assert text.splitlines()[2] == "     0 s 1,200 s"


# ---- PNG ----------------------------------------------------------------------------------------------


def test_the_png_has_its_size_and_every_series_drawn(tmp_path: Path) -> None:
    times = [float(t) for t in range(10, 610, 10)]
    memory = {"intake": [140.0 + t / 600 for t in times], "routing": [120.0] * len(times)}
    latency: dict[str, list[float | None]] = {"p50": [20.0] * len(times), "p99": [None, *([90.0] * (len(times) - 1))]}
    target = tmp_path / "nested" / "soak.png"
    draw(
        target,
        times,
        [Panel("memory", "MB", dict(memory), shade_to_s=300), Panel("latency", "ms", latency, zero_based=True)],
        title="soak",
        filing_s=540,
    )
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == SIZE
        rgb = image.convert("RGB")
        colours = {colour for _count, colour in rgb.getcolors(maxcolors=SIZE[0] * SIZE[1]) or []}
    assert colours - {BACKGROUND}, "a blank image"
    assert set(PALETTE[:2]) <= colours  # the first two series' lines (and legends) are drawn in their colours


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 1800) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(112.4, 126.3) == [110, 115, 120, 125, 130]
    assert nice_ticks(3, 3) == [3.0, 3.2, 3.4, 3.6, 3.8, 4.0]


# ---- inputs -------------------------------------------------------------------------------------------


def test_filing_metrics_reads_intakes_histogram_and_filings() -> None:
    labels = 'method="POST",route="/v1/dossiers",service="intake"'
    text = "\n".join(
        [
            "# TYPE lienthong_http_requests_total counter",
            f'lienthong_http_requests_total{{{labels},status="201"}} 7.0',
            f'lienthong_http_requests_total{{{labels},status="422"}} 2.0',
            'lienthong_http_requests_total{method="GET",route="/v1/dossiers",service="intake",status="200"} 5.0',
            "# TYPE lienthong_http_request_duration_seconds histogram",
            f'lienthong_http_request_duration_seconds_bucket{{le="0.01",{labels}}} 6.0',
            f'lienthong_http_request_duration_seconds_bucket{{le="+Inf",{labels}}} 9.0',
            f"lienthong_http_request_duration_seconds_count{{{labels}}} 9.0",
            f"lienthong_http_request_duration_seconds_sum{{{labels}}} 0.3",
            'lienthong_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/x",service="intake"} 4.0',
            "",
        ]
    )
    assert filing_metrics(text) == (((0.01, 6.0), (INF, 9.0)), 7)


def test_the_default_rate_is_half_the_sustained_pipeline_rate_scaled_to_whole_lives_or_one(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.json"
    assert default_rate(path)[0] == 1.0
    path.write_text(json.dumps([{"name": "pipeline_dossiers_per_s_sqlite", "value": 8.0}]), encoding="utf-8")
    assert default_rate(path) == (1.0, f"half the sustained 8/s of {path}, over 4 for whole lives")
    path.write_text(json.dumps([{"name": "pipeline_dossiers_per_s_sqlite", "value": 300.0}]), encoding="utf-8")
    assert default_rate(path)[0] == 37.5
    path.write_text(json.dumps([{"name": "pipeline_dossiers_per_s_sqlite", "value": 0.0}]), encoding="utf-8")
    rate, source = default_rate(path)
    assert rate == 1.0 and "no sustained rate" in source


def test_the_cpu_figures_are_ms_per_dossier_filed_and_the_cores_busy() -> None:
    found = {f["name"]: f for f in cpu_figures({"intake": 3.0, "load generator": 1.0}, 2.0, 10)}
    assert found["soak_cpu_ms_per_dossier_intake"]["value"] == 300.0
    assert found["soak_cpu_ms_per_dossier_load_generator"]["value"] == 100.0
    assert found["soak_cores_busy"]["value"] == 2.0
    assert cpu_figures({"intake": 1.0}, 0.0, 0)[0]["value"] == 1000.0


def test_notified_latency_counts_each_accepted_dossier_once_from_its_acceptance_message(tmp_path: Path) -> None:
    intake, notify = tmp_path / "intake.db", tmp_path / "notify.db"
    with sqlite3.connect(intake) as db:
        db.execute("CREATE TABLE dossier (code TEXT PRIMARY KEY, accepted_at TEXT)")
        db.executemany(
            "INSERT INTO dossier VALUES (?, ?)",
            [("A", "2026-01-05 03:00:10.000000"), ("P", "2026-01-05 03:00:20.000000"), ("R", None)],
        )
    with sqlite3.connect(notify) as db:
        db.execute("CREATE TABLE notification (id TEXT, dossier_code TEXT, audience TEXT, event_type TEXT)")
        db.execute("CREATE TABLE notification_event (notification_id TEXT, status TEXT, at TEXT)")
        db.executemany(
            "INSERT INTO notification VALUES (?, ?, ?, ?)",
            [
                ("a1", "A", "citizen", "dossier.accepted"),
                ("a2", "A", "citizen", "dossier.accepted"),  # the email beside the SMS: the first one counts
                ("p0", "P", "citizen", "postal.pickup_requested"),  # filed by post: told before acceptance
                ("p1", "P", "citizen", "dossier.accepted"),
                ("u1", "A", "unit", "dossier.accepted"),
                ("r1", "R", "citizen", "dossier.refused"),
            ],
        )
        db.executemany(
            "INSERT INTO notification_event VALUES (?, ?, ?)",
            [
                ("a1", "sending", "2026-01-05 03:00:10.100000"),
                ("a1", "sent", "2026-01-05 03:00:10.250000"),
                ("a2", "sent", "2026-01-05 03:00:10.400000"),
                ("p0", "sent", "2026-01-05 03:00:15.000000"),
                ("u1", "sent", "2026-01-05 03:00:10.050000"),
                ("r1", "sent", "2026-01-05 03:00:30.000000"),
            ],
        )
    latency = NotifiedLatency(intake, notify)
    assert latency.new() == [pytest.approx(250.0)]
    with sqlite3.connect(notify) as db:
        db.execute("INSERT INTO notification_event VALUES ('p1', 'sent', '2026-01-05 03:00:21.500000')")
    assert latency.new() == [pytest.approx(1500.0)]  # P now; A is not counted again
    assert latency.new() == []
