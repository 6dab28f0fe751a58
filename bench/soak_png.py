"""The soak's chart as a PNG, drawn with pillow: memory a line per service over time in the top panel, the
latencies a line per series in the panels under it, each panel with its axes, ticks, title and legend, the warm-up
of what it judges shaded, and the end of the filing time marked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = (1200, 1100)
BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)
SHADE = (243, 243, 236)
PALETTE = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))

Series = Mapping[str, Sequence[float | None]]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: Series
    zero_based: bool = False
    shade_to_s: float = 0.0
    """The warm-up of what this panel judges, shaded and labelled ``shade_label``."""
    shade_label: str = "warm-up"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def draw(
    path: Path,
    times: Sequence[float],
    panels: Sequence[Panel],
    *,
    title: str,
    filing_s: float,
) -> None:
    """Write the chart to ``path``: one panel after the other, sharing the time axis (seconds)."""
    image = Image.new("RGB", SIZE, BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.text((SIZE[0] // 2, 14), title, fill=INK, font=_font(20), anchor="mt")
    top, height = 50, (SIZE[1] - 50) // len(panels)
    for i, panel in enumerate(panels):
        box = (90, top + i * height + 30, SIZE[0] - 200, top + (i + 1) * height - 40)
        _panel(pen, box, times, panel, filing_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")


def _panel(
    pen: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    times: Sequence[float],
    panel: Panel,
    filing_s: float,
) -> None:
    left, top, right, bottom = box
    small, label = _font(12), _font(15)
    values = [v for vs in panel.series.values() for v in vs if v is not None]
    lo = 0.0 if panel.zero_based or not values else min(values)
    hi = max(values) if values else 1.0
    pad = max((hi - lo) * 0.1, 1.0)  # a little room above (and below) the lines
    lo, hi = (lo, hi + pad) if panel.zero_based else (lo - pad, hi + pad)
    y_ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, y_ticks[0]), max(hi, y_ticks[-1])
    t_end = max([*times, filing_s, 1.0])
    x_ticks = [t for t in nice_ticks(0, t_end) if t <= t_end]

    def x(t: float) -> float:
        return left + (right - left) * t / t_end

    def y(v: float) -> float:
        return bottom - (bottom - top) * (v - lo) / (hi - lo)

    if panel.shade_to_s > 0:
        pen.rectangle((left, top, x(min(panel.shade_to_s, t_end)), bottom), fill=SHADE)
    for t in x_ticks:
        pen.line((x(t), top, x(t), bottom), fill=GRID)
        pen.text((x(t), bottom + 6), f"{t:g}", fill=INK, font=small, anchor="mt")
    for v in y_ticks:
        pen.line((left, y(v), right, y(v)), fill=GRID)
        pen.text((left - 6, y(v)), f"{v:g}", fill=INK, font=small, anchor="rm")
    _dashed(pen, x(filing_s), top, bottom)
    pen.text((x(filing_s) - 4, top + 4), "filing ends", fill=INK, font=small, anchor="ra")
    pen.rectangle(box, outline=INK)
    pen.text(((left + right) // 2, top - 8), f"{panel.title} ({panel.unit})", fill=INK, font=label, anchor="mb")
    pen.text((right, bottom + 22), "seconds since the load started", fill=INK, font=small, anchor="rt")
    if panel.shade_to_s > 0:
        pen.text((left + 4, top + 4), panel.shade_label, fill=INK, font=small)
    for n, (name, series) in enumerate(panel.series.items()):
        colour = PALETTE[n % len(PALETTE)]
        run: list[tuple[float, float]] = []
        for t, value in zip(times, series, strict=True):
            if value is None:
                _line(pen, run, colour)
                run = []
            else:
                run.append((x(t), y(value)))
        _line(pen, run, colour)
        pen.line((right + 16, top + 10 + n * 22, right + 40, top + 10 + n * 22), fill=colour, width=3)
        pen.text((right + 46, top + 10 + n * 22), name, fill=INK, font=small, anchor="lm")


def _line(pen: ImageDraw.ImageDraw, points: list[tuple[float, float]], colour: tuple[int, int, int]) -> None:
    if len(points) == 1:
        px, py = points[0]
        pen.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
    elif points:
        pen.line(points, fill=colour, width=2, joint="curve")


def _dashed(pen: ImageDraw.ImageDraw, at: float, top: int, bottom: int) -> None:
    for start in range(top, bottom, 10):
        pen.line((at, start, at, min(start + 5, bottom)), fill=INK)
