"""A bench figure as `make bench` records it (name, value, unit, floor, whether it was met), and the file and
table it goes to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def figure(name: str, value: float, unit: str, floor: float | None, floor_met: bool | None, **extra: Any) -> Any:
    return {"name": name, "value": round(value, 2), "unit": unit, "floor": floor, "floor_met": floor_met, **extra}


def shown(path: Path) -> str:
    """A path as printed: relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def save_figures(figures: list[dict[str, Any]], target: Path, suffix: str = "") -> None:
    """Write the figures as JSON to ``target`` and print them as a table; ``suffix`` ends the last line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    width = max([len("figure"), *(len(f["name"]) for f in figures)])
    print(f"\n{'figure':<{width}} {'value':>12}  {'unit':<11} {'floor':>7}  met")
    for f in figures:
        floor = "" if f["floor"] is None else f"{f['floor']:g}"
        met = "" if f["floor_met"] is None else ("yes" if f["floor_met"] else "NO")
        print(f"{f['name']:<{width}} {f['value']:>12,.1f}  {f['unit']:<11} {floor:>7}  {met}")
    print(f"written to {shown(target)}{suffix}")
