"""Bar charts for docs/benchmarks.md, as small self-contained SVG files.

Each benchmark draws its headline figures with `bars` next to its table: one group of
horizontal bars per row (a configuration, a library size), one colour per series (p50 and
p95, photofind and rclip), and dashed lines for the targets the issue sets. SVG written
by hand keeps the charts dependency-free, deterministic (a rerun with the same figures
changes no byte) and readable in a diff; GitHub and any browser render them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

CHARTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"

# Okabe–Ito: told apart by people with any common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
TARGET_COLOUR = "#C0392B"
DASHES = ["5 3", "1 3", "9 3 1 3"]   # told apart in the legend when there are several targets

WIDTH = 760
FONT = 12
CHAR = 6.8          # mean width of a 12 px sans-serif character, for laying out labels
BAR = 14
BAR_GAP = 3
GROUP_GAP = 12
PLOT_RIGHT_PAD = 64  # room for the value printed after the longest bar


@dataclass
class Chart:
    """What one chart shows. `groups`: (label, [(series, value), ...]); a value of None
    leaves that bar out. `targets`: (label, value) lines across the bars."""

    title: str
    unit: str
    groups: list[tuple[str, list[tuple[str, float | None]]]]
    targets: list[tuple[str, float]] = field(default_factory=list)
    note: str = ""
    decimals: int | None = None


def _nice_max(value: float) -> float:
    """The smallest 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k at or above `value`: the
    axis ends close to the longest bar or target, in quarters that read easily."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = step * 10 ** exp
        if candidate >= value * 0.999:
            return candidate
    return 10 ** (exp + 1)


def _fmt(value: float, decimals: int | None) -> str:
    if decimals is None:
        decimals = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{decimals}f}"


def svg(chart: Chart) -> str:
    series: list[str] = []
    for _label, values in chart.groups:
        for name, _v in values:
            if name not in series:
                series.append(name)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    values = [v for _l, vs in chart.groups for _n, v in vs if v is not None]
    top = _nice_max(max(values + [t for _l, t in chart.targets] + [0.0]))

    label_w = max([len(label) for label, _ in chart.groups] + [4]) * CHAR + 12
    left = label_w
    right = WIDTH - PLOT_RIGHT_PAD
    span = right - left

    def x(value: float) -> float:
        return left + span * max(0.0, value) / top

    out: list[str] = []
    y = 22.0
    out.append(f'<text x="{WIDTH / 2:.0f}" y="{y:.0f}" text-anchor="middle" '
               f'font-weight="bold">{escape(chart.title)}</text>')
    y += 8
    # Legend: one swatch per series, then each target's dash.
    lx = left
    legend = [(name, colours[name], False) for name in series]
    legend += [(label, DASHES[i % len(DASHES)], True)
               for i, (label, _v) in enumerate(chart.targets)]
    if len(legend) > 1 or chart.targets:
        y += 14
        for name, colour, dashed in legend:
            width = 18 + len(name) * CHAR + 18
            if lx > left and lx + width - 18 > WIDTH - 8:  # wrap onto a new legend line
                lx, y = left, y + 18
            if dashed:
                out.append(f'<line x1="{lx:.1f}" y1="{y - 4:.1f}" x2="{lx + 14:.1f}" '
                           f'y2="{y - 4:.1f}" stroke="{TARGET_COLOUR}" stroke-width="2" '
                           f'stroke-dasharray="{colour}"/>')
            else:
                out.append(f'<rect x="{lx:.1f}" y="{y - 10:.1f}" width="12" height="12" '
                           f'fill="{colour}"/>')
            out.append(f'<text x="{lx + 18:.1f}" y="{y:.1f}">{escape(name)}</text>')
            lx += width
    y += 12
    plot_top = y
    labels: list[str] = []  # each bar's figure, drawn last
    for label, group in chart.groups:
        bars = [(n, v) for n, v in group if v is not None]
        height = len(bars) * BAR + max(0, len(bars) - 1) * BAR_GAP
        out.append(f'<text x="{left - 8:.1f}" y="{y + height / 2 + 4:.1f}" '
                   f'text-anchor="end">{escape(label)}</text>')
        for name, value in bars:
            w = x(value) - left
            out.append(f'<rect class="bar" data-series="{escape(name)}" '
                       f'data-value="{value!r}" x="{left:.1f}" y="{y:.1f}" '
                       f'width="{w:.1f}" height="{BAR}" fill="{colours[name]}"/>')
            shown = _fmt(value, chart.decimals)
            # On a white ground, so a target line passing behind the figure leaves it legible.
            labels.append(f'<rect x="{left + w + 2:.1f}" y="{y:.1f}" '
                          f'width="{len(shown) * CHAR * 0.9 + 4:.1f}" height="{BAR}" '
                          'fill="white" fill-opacity="0.85"/>')
            labels.append(f'<text x="{left + w + 4:.1f}" y="{y + BAR - 3:.1f}" '
                          f'font-size="{FONT - 1}">{shown}</text>')
            y += BAR + BAR_GAP
        y += GROUP_GAP - BAR_GAP
    plot_bottom = y - GROUP_GAP + 6
    # Axis with five ticks and their grid lines, under the bars.
    axis: list[str] = [f'<line x1="{left:.1f}" y1="{plot_top - 4:.1f}" x2="{left:.1f}" '
                       f'y2="{plot_bottom:.1f}" stroke="#444"/>',
                       f'<line x1="{left:.1f}" y1="{plot_bottom:.1f}" x2="{right:.1f}" '
                       f'y2="{plot_bottom:.1f}" stroke="#444"/>']
    step = top / 4
    tick_decimals = next(d for d in range(4) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-9
                         or d == 3)
    for i in range(5):
        tick = step * i
        tx = x(tick)
        axis.append(f'<line x1="{tx:.1f}" y1="{plot_top - 4:.1f}" x2="{tx:.1f}" '
                    f'y2="{plot_bottom:.1f}" stroke="#ddd"/>')
        axis.append(f'<text x="{tx:.1f}" y="{plot_bottom + 15:.1f}" text-anchor="middle" '
                    f'font-size="{FONT - 1}">{_fmt(tick, tick_decimals)}</text>')
    targets: list[str] = []  # drawn last, over the bars
    for i, (_label, value) in enumerate(chart.targets):
        tx = x(value)
        targets.append(f'<line class="target" data-value="{value!r}" x1="{tx:.1f}" '
                    f'y1="{plot_top - 4:.1f}" x2="{tx:.1f}" y2="{plot_bottom:.1f}" '
                    f'stroke="{TARGET_COLOUR}" stroke-width="2" '
                    f'stroke-dasharray="{DASHES[i % len(DASHES)]}"/>')
    y = plot_bottom + 32
    axis.append(f'<text x="{(left + right) / 2:.1f}" y="{y - 2:.1f}" '
                f'text-anchor="middle">{escape(chart.unit)}</text>')
    if chart.note:
        y += 16
        axis.append(f'<text x="{left:.1f}" y="{y - 2:.1f}" font-size="{FONT - 1}" '
                    f'fill="#555">{escape(chart.note)}</text>')
    height = y + 8
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" '
            f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">')
    background = f'<rect width="{WIDTH}" height="{height:.0f}" fill="white"/>'
    return "\n".join([head, background, *axis, *out, *targets, *labels, "</svg>"]) + "\n"


def bars(name: str, chart: Chart, directory: Path = CHARTS) -> str:
    """Write docs/benchmarks/<name>.svg; return the Markdown that shows it from
    docs/benchmarks.md."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.svg").write_text(svg(chart))
    return f"![{chart.title}]({directory.name}/{name}.svg)"
