"""`make soak`, shortened: the real bench/soak.py for 40 seconds at 2 dossiers a second starts its embedded
stack, writes its figures, chart and samples, reports every dossier as planned, and stops its stack. Its
floors are not asserted: a short run on a shared machine judges nothing (bench/soak_trend.py says why)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.soak_png import SIZE
from tests.support.infra import ROOT

pytestmark = pytest.mark.e2e

SECONDS, RATE, EVERY = 40, 2, 5
SERVICES = ("intake", "routing", "sla", "notify")


def processes_using(path: str) -> list[int]:
    """The processes with a file open under ``path``: each process of a stack writes its log there."""
    found = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd).startswith(path):
                found.add(int(fd.parent.parent.name))
        except OSError:
            continue
    return sorted(found)


@pytest.mark.timeout(900)
def test_a_short_soak_writes_its_figures_and_chart_and_ends_every_dossier_as_planned(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = [sys.executable, "-m", "bench.soak", "--seconds", str(SECONDS), "--rate", str(RATE)]
    argv += ["--every", str(EVERY), "--think", "0.2,1", "--drain", "300", "--out-dir", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_SOAK_")}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=840)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the soak stops its stack on the way out
        stdout, stderr = proc.communicate(timeout=120)
        pytest.fail(f"the soak did not finish in time:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    print(stdout)
    assert proc.returncode == 0, f"{stdout[-3000:]}\n{stderr[-3000:]}"

    figures = {f["name"]: f for f in json.loads((out / "soak.json").read_text(encoding="utf-8"))}
    expected = {
        **{f"soak_rss_growth_{name}_mb_per_h": "MB/h" for name in SERVICES},
        "soak_filing_p99_drift": "ratio",
        "soak_notified_p99_drift": "ratio",
        "soak_dossiers_off_plan": "dossiers",
    }
    cpu = {name.removeprefix("soak_cpu_ms_per_dossier_"): f for name, f in figures.items() if "_cpu_ms_" in name}
    assert {name: f["unit"] for name, f in figures.items() if name not in expected and "_cpu_ms_" not in name} == {
        "soak_cores_busy": "cores"
    }
    assert {name: f["unit"] for name, f in figures.items() if name in expected} == expected
    assert {*SERVICES, "broker", "load_generator"} <= set(cpu)
    assert all(f["unit"] == "ms" and f["value"] >= 0 for f in cpu.values())
    assert all(cpu[name]["value"] > 0 for name in (*SERVICES, "load_generator"))
    assert 0 < figures["soak_cores_busy"]["value"] <= figures["soak_cores_busy"]["cores"]
    assert all({"value", "floor", "floor_met"} <= set(f) for f in figures.values())
    plan = figures["soak_dossiers_off_plan"]
    assert plan["value"] == 0 and plan["floor_met"] is True and plan["filed"] > 0 and plan["samples"] >= 2

    (png,) = out.glob("soak-*.png")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == SIZE
    assert plan["chart"] == str(png)
    (samples,) = out.glob("soak-*.csv")
    assert len(samples.read_text(encoding="utf-8").splitlines()) == plan["samples"] + 1

    report = json.loads(Path(plan["load_report"]).read_text(encoding="utf-8"))
    assert report["failed"] == 0 and report["unfinished"] == 0 and report["filed"] == plan["filed"]
    assert all(d["ok"] and d["status"] == d["fate"] for d in report["dossiers"])
    assert "all dossiers ended as planned" in stdout and "resident memory, MB" in stdout

    stack_dir = re.search(r"stack up in (\S+);", stderr)
    assert stack_dir, stderr[-2000:]
    assert processes_using(stack_dir.group(1)) == [], "the soak left part of its stack running"
