"""A bench figure as `make bench` records it (name, value, unit, floor, whether it was met), and the file and
table it goes to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "var" / "bench"
"""Where every bench writes its figures."""


def figure(name: str, value: float, unit: str, floor: float | None, floor_met: bool | None, **extra: Any) -> Any:
    return {"name": name, "value": round(value, 2), "unit": unit, "floor": floor, "floor_met": floor_met, **extra}


def shown(path: Path) -> str:
    """A path as printed: relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_figures(figures: list[dict[str, Any]], target: Path) -> None:
    """Write the figures as JSON to ``target`` (a bench that prints a table of its own calls this alone)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_figures(figures: list[dict[str, Any]], target: Path, suffix: str = "") -> None:
    """Write the figures as JSON to ``target`` and print them as a table; ``suffix`` ends the last line."""
    write_figures(figures, target)
    print()
    print(table(figures))
    print(f"written to {shown(target)}{suffix}")


def table(figures: list[dict[str, Any]]) -> str:
    """The figures, one a line: name, value, unit, floor, whether it was met, and the spread of the runs where a
    figure is a median."""
    width = max([len("figure"), *(len(f["name"]) for f in figures)])
    lines = [f"{'figure':<{width}} {'value':>12}  {'unit':<11} {'floor':>7}  {'met':<3}  spread"]
    for f in figures:
        floor = "" if f["floor"] is None else f"{f['floor']:g}"
        met = "" if f["floor_met"] is None else ("yes" if f["floor_met"] else "NO")
        lines.append(f"{f['name']:<{width}} {f['value']:>12,.1f}  {f['unit']:<11} {floor:>7}  {met:<3}  {spread(f)}")
    return "\n".join(line.rstrip() for line in lines)


def spread(f: dict[str, Any]) -> str:
    """How far apart the runs behind a median were, as a figure's file records it (its own words vary)."""
    if f.get("spread_pct") is not None:
        return f"{f['spread_pct']:g}% over {f.get('runs', '?')} runs"
    for key, unit in (("spread", f.get("unit", "")), ("spread_ms", "ms"), ("p99_spread_ms", "ms p99")):
        if f.get(key) is not None:
            return f"{f[key]:,.1f} {unit}".rstrip()
    return ""
