"""The benchmark charts in docs/benchmarks.md: what a reader sees is what was measured."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import plot  # noqa: E402
import report  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg_text: str) -> list[tuple[str, float, float]]:
    root = ET.fromstring(svg_text)
    return [(r.get("data-series"), float(r.get("data-value")), float(r.get("width")))
            for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def _texts(svg_text: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg_text).iter(f"{SVG}text")]


def test_bars_are_as_long_as_their_figures_and_targets_sit_at_theirs(tmp_path):
    chart = plot.Chart("Warm query", "milliseconds",
                       [("100,000 photos", [("p50", 15.5), ("p95", 16.3)]),
                        ("1,000,000 photos", [("p50", 32.0), ("p95", 51.2)])],
                       targets=[("target at 1M: 60 ms", 60.0)])
    markdown = plot.bars("warm", chart, tmp_path / "benchmarks")
    assert markdown == "![Warm query](benchmarks/warm.svg)"
    text = (tmp_path / "benchmarks" / "warm.svg").read_text()
    bars = _bars(text)
    assert [(s, v) for s, v, _w in bars] == [("p50", 15.5), ("p95", 16.3), ("p50", 32.0),
                                             ("p95", 51.2)]
    px_per_unit = bars[-1][2] / 51.2
    for _series, value, width in bars:
        assert width == pytest.approx(value * px_per_unit, abs=0.11)
    root = ET.fromstring(text)
    (target,) = [line for line in root.iter(f"{SVG}line") if line.get("class") == "target"]
    left = float(next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar").get("x"))
    assert float(target.get("x1")) - left == pytest.approx(60.0 * px_per_unit, abs=0.11)
    shown = _texts(text)
    for label in ("Warm query", "100,000 photos", "1,000,000 photos", "51.2", "15.5",
                  "p50", "p95", "target at 1M: 60 ms", "milliseconds"):
        assert label in shown
    # The same figures draw the same bytes: a rerun without changes leaves no diff.
    assert plot.svg(chart) == text


def test_a_missing_figure_leaves_its_bar_out_and_odd_labels_are_escaped(tmp_path):
    chart = plot.Chart("A & B <rates>", "images/s",
                       [("photofind", [("end to end", 22.4), ("steady", None)]),
                        ("rclip 3.3.0", [("end to end", 8.9), ("steady", 9.9)])])
    text = plot.svg(chart)
    assert [(s, v) for s, v, _w in _bars(text)] == [("end to end", 22.4), ("end to end", 8.9),
                                                   ("steady", 9.9)]
    assert "A & B <rates>" in _texts(text)


def test_the_chart_renders_in_qt(tmp_path, qapp):
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    chart = plot.Chart("Rescan", "seconds", [("100,000 files", [("end to end", 1.16)])],
                       targets=[("target: 5 s", 5.0)])
    renderer = QSvgRenderer(plot.svg(chart).encode())
    assert renderer.isValid()
    image = QImage(renderer.defaultSize(), QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    bar = next(b for b in ET.fromstring(plot.svg(chart)).iter(f"{SVG}rect")
               if b.get("class") == "bar")
    x = int(float(bar.get("x")) + float(bar.get("width")) / 2)
    y = int(float(bar.get("y")) + 7)
    assert image.pixelColor(x, y).name().lower() == plot.PALETTE[0].lower()


def test_update_section_replaces_one_section_and_keeps_the_others(tmp_path):
    doc = tmp_path / "benchmarks.md"
    report.update_section("Rescan (bench/rescan.py)", "old figures", doc)
    report.update_section("Peer (bench/peer.py)", "peer figures", doc)
    link = plot.bars("rescan", plot.Chart("Rescan", "s", [("100k", [("wall", 1.2)])]),
                     tmp_path / "benchmarks")
    report.update_section("Rescan (bench/rescan.py)", "new figures\n\n" + link, doc)
    text = doc.read_text()
    assert "old figures" not in text and "new figures" in text and "peer figures" in text
    assert text.index("## Rescan") < text.index("## Peer")
    assert (tmp_path / "benchmarks" / "rescan.svg").exists()


def test_every_chart_docs_benchmarks_links_to_is_there_and_parses():
    doc = ROOT / "docs" / "benchmarks.md"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+\.svg)\)", doc.read_text())
    assert links, "docs/benchmarks.md shows no chart"
    for link in links:
        path = doc.parent / link
        assert path.exists(), f"docs/benchmarks.md links to {link}, which is missing"
        assert _bars(path.read_text()), f"{link} draws no bar"
