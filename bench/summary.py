"""The summary table at the end of `make bench`: every figure of var/bench/*.json, file by file, with its floor,
whether it was met and the spread of its runs; then the floors missed.

    .venv/bin/python -m bench.summary [--dir var/bench]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.figures import BENCH_DIR, shown, table


def figures_in(directory: Path) -> dict[Path, list[dict[str, Any]]]:
    """Each figures file of the directory with its figures; a file that is not a list of figures is left out."""
    found: dict[Path, list[dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            figures = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(figures, list) and all(
            isinstance(f, dict) and {"name", "value", "unit"} <= f.keys() for f in figures
        ):
            found[path] = [{"floor": None, "floor_met": None, **f} for f in figures]
    return found


def summary(found: dict[Path, list[dict[str, Any]]]) -> str:
    if not found:
        return "no figures yet: run make bench"
    lines: list[str] = []
    missed: list[str] = []
    for path, figures in found.items():
        lines += ["", f"{shown(path)}", table(figures)]
        missed += [f"  {f['name']} ({shown(path)})" for f in figures if f["floor_met"] is False]
    met = sum(1 for figures in found.values() for f in figures if f["floor_met"] is True)
    lines += ["", f"floors met: {met}; missed: {len(missed)}", *missed]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)
    print(summary(figures_in(args.dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
