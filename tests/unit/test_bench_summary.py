"""The summary at the end of `make bench`: every file's figures in one table, with the floors missed named."""

from __future__ import annotations

import json
from pathlib import Path

from bench.calendar_bench import Timing
from bench.calendar_bench import figures as calendar_figures
from bench.figures import figure, spread, table
from bench.summary import figures_in, summary


def test_a_figure_s_spread_is_read_whatever_its_bench_called_it() -> None:
    assert spread({"spread_pct": 3.5, "runs": 5}) == "3.5% over 5 runs"
    assert spread({"spread": 120.0, "unit": "dossiers/s"}) == "120.0 dossiers/s"
    assert spread({"spread_ms": 2.25}) == "2.2 ms"
    assert spread({"p99_spread_ms": 300.0}) == "300.0 ms p99"
    assert spread({}) == ""


def test_the_table_shows_floor_met_and_spread() -> None:
    lines = table([figure("a_rate", 8, "dossiers/s", 300, False, spread=1.0), figure("b", 2, "ms", None, None)])
    header, a, b = lines.splitlines()
    assert header.split() == ["figure", "value", "unit", "floor", "met", "spread"]
    assert a.split() == ["a_rate", "8.0", "dossiers/s", "300", "NO", "1.0", "dossiers/s"]
    assert b.split() == ["b", "2.0", "ms"]


def test_the_summary_reads_every_figures_file_and_names_the_floors_missed(tmp_path: Path) -> None:
    (tmp_path / "pipeline.json").write_text(
        json.dumps([figure("pipeline_per_s", 8, "dossiers/s", 300, False), figure("rss_mb", 120, "MB", 150, True)])
    )
    (tmp_path / "calendar.json").write_text(json.dumps([{"name": "bulk", "value": 1.0, "unit": "ns"}]))
    (tmp_path / "notes.json").write_text(json.dumps({"not": "figures"}))
    (tmp_path / "broken.json").write_text("{")
    found = figures_in(tmp_path)
    assert [p.name for p in found] == ["calendar.json", "pipeline.json"]
    text = summary(found)
    assert "floors met: 1; missed: 1" in text
    assert text.splitlines()[-1].strip().startswith("pipeline_per_s (")
    assert summary({}) == "no figures yet: run make bench"


def test_only_the_bulk_calendar_is_held_to_numpy_s_speed() -> None:
    per_call, bulk, numpy = (
        Timing.of("per_call", [5.0], 1000),
        Timing.of("bulk", [0.04, 0.05, 0.06], 1000),
        Timing.of("numpy", [0.06, 0.07], 1000),
    )
    found = {f["name"]: f for f in calendar_figures([per_call, bulk, numpy], numpy, bulk)}
    assert found["bulk.deadlines_per_second"]["floor_met"] is True
    assert found["bulk.deadlines_per_second"]["value"] == 20_000
    assert found["bulk.ns_per_deadline"]["spread_pct"] == 40.0
    assert found["per_call.deadlines_per_second"]["floor"] is None
    assert found["numpy.ns_per_deadline"]["floor_met"] is None
