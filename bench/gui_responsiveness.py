"""How responsive the desktop app stays while it works.

Opens the real main window (offscreen by default) on a fresh data directory, lets the
index worker index a few hundred demo scenes with the demo model, and meanwhile replays
typed queries keystroke by keystroke, scrolls the results and moves the selection (so
thumbnails and previews load). A 10 ms QTimer measures its own lateness: that is the
event-loop lag a person feels. Then it fills the grid with 10,000 results and scrolls
through them, measuring the lag again.

    python bench/gui_responsiveness.py [--photos 300] [--model SPEC] [--no-write]

The default model is `random:ViT-B-32-256`: photofind's default architecture with random
weights, written into a temporary folder (no download), so the CPU cost is what a
person's first indexing run costs. `--model demo` uses the shipped demo model.

Writes the figures into docs/benchmarks.md (section "GUI responsiveness").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

QUERIES = ["red circle", "blue square on yellow", "a green star", "small white triangle",
           "purple star on orange"]
TICK_MS = 10
TYPE_MS = 110  # one keystroke every 110 ms: a brisk typist


class LagProbe:
    """A repeating 10 ms timer that records how late each tick fires."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.samples: list[float] = []
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.recording = False

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.recording:
            self.samples.append(max(0.0, (now - self.last) * 1000 - TICK_MS))
            self.times.append(now)
        self.last = now

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        self.times = []
        return samples

    def split(self, at: float) -> tuple[list[float], list[float]]:
        """(samples before `at`, samples after), and forget them."""
        before = [s for s, t in zip(self.samples, self.times, strict=True) if t <= at]
        after = [s for s, t in zip(self.samples, self.times, strict=True) if t > at]
        self.samples, self.times = [], []
        return before, after

    def worst(self, n: int = 5) -> list[tuple[float, float]]:
        return sorted(zip(self.samples, self.times, strict=True), reverse=True)[:n]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    if not samples:
        return 0.0, 0.0, 0.0
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.5), pick(0.99), ordered[-1]


def random_model(name: str, folder: Path) -> str:
    """A local-dir: model of architecture `name` with random weights (no download)."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    config = open_clip.get_model_config(name)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = open_clip.CLIP(**config)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"


def run(photos: int, model: str, workdir: Path) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from photofind.core.search.searcher import Result
    from photofind.core.store.datadir import DataDir
    from photofind.demo import write_library
    from photofind.gui.prefs import Prefs
    from photofind.gui.window import MainWindow

    app = QApplication.instance() or QApplication([])
    folder = workdir / "demo-photos"
    t0 = time.perf_counter()
    write_library(folder, photos)
    print(f"wrote {photos} demo scenes in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    prefs = Prefs(QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat))
    prefs.set_model(model)
    prefs.device = "cpu"
    window = MainWindow(DataDir(workdir / "data"), prefs, index_on_start=False)
    window.resize(1280, 820)
    window.show()
    probe = LagProbe()
    probe.start()
    searches: list[tuple[float, float]] = []  # (when shown, ms since sent)
    window.results_shown.connect(lambda _n: searches.append(
        (time.perf_counter(), (time.perf_counter() - window.search.sent_at) * 1000)))

    def wait(condition, timeout: float) -> None:
        end = time.perf_counter() + timeout
        while not condition() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    wait(lambda: bool(window.library) or window.pages.currentWidget() is window.welcome, 60)

    # --- phase 1: index while a person types, scrolls and clicks --------------------------
    bursts: list = []  # the LibraryWorker's runs
    window.index_finished.connect(
        lambda what, report: what == "burst" and bursts.append(report))

    def indexed() -> bool:
        return window.library.get("photos", 0) >= photos and not window.indexing

    def cycle(at: float) -> list[tuple[float, object]]:
        """One pass of the person's script, starting `at` seconds from now."""
        actions: list[tuple[float, object]] = []
        for query in QUERIES:
            actions.append((at, lambda: window.field.clear()))
            for ch in query:
                at += TYPE_MS / 1000
                actions.append((at, lambda ch=ch: QTest.keyClicks(window.field, ch)))
            at += 0.5
            for step in range(6):
                at += 0.15
                actions.append((at, lambda step=step: window.view.verticalScrollBar().setValue(
                    step * 120)))
            at += 0.1
            actions.append((at, lambda: window.model.rowCount() and window.view.setCurrentIndex(
                window.model.index(3))))
            at += 0.4
        return actions

    probe.recording = True
    start = time.perf_counter()
    window.add_folders([str(folder)])
    pending = cycle(0.2)
    done_at = None
    keystrokes = during_keys = 0
    while time.perf_counter() - start < 900:
        now = time.perf_counter() - start
        while pending and pending[0][0] <= now:
            pending.pop(0)[1]()
            keystrokes += 1
            if done_at is None:
                during_keys += 1
        if done_at is None and indexed():
            done_at = time.perf_counter()
        if not pending:
            if done_at is not None and any(t > done_at for t in probe.times[-1:]) \
                    and time.perf_counter() - done_at > 2:
                break  # indexing is over and a whole pass ran after it
            pending = cycle(now + 0.2)
        app.processEvents()
        time.sleep(0.0005)
    index_end = done_at
    index_seconds = (index_end or time.perf_counter()) - start
    worst = [(round(lag), round(t - start, 2)) for lag, t in probe.worst()]
    during, after = probe.split(index_end or time.perf_counter())
    cut = index_end or time.perf_counter()
    search_during = [ms for t, ms in searches if t <= cut]
    search_after = [ms for t, ms in searches if t > cut]
    embedded = sum(b.embedded for b in bursts)

    # --- phase 2: 10,000 results, scrolled top to bottom ---------------------------------
    probe.recording = False
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    many = [Result(i, paths[i % len(paths)], 1 - i / 20000, 256, 256, None, 20000, "JPEG")
            for i in range(10_000)]
    window.field.blockSignals(True)
    window.field.setText("scroll test")
    window.field.blockSignals(False)
    window.search.clear()
    window._results(many, 0.0, False)
    bar = window.view.verticalScrollBar()
    wait(lambda: bar.maximum() > 0, 5)
    probe.recording = True
    frames: list[float] = []
    steps = 400
    for i in range(steps + 1):
        bar.setValue(int(bar.maximum() * i / steps))
        t = time.perf_counter()
        window.view.viewport().repaint()
        frames.append((time.perf_counter() - t) * 1000)
        end = time.perf_counter() + 0.016  # ~60 scroll steps a second
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.0005)
    scrolling = probe.take()
    window.close()
    app.processEvents()
    return {
        "during": during, "after": after, "scrolling": scrolling, "frames": frames,
        "search_during": search_during, "search_after": search_after, "index_seconds": index_seconds, "embedded": embedded,
        "photos": photos, "actions": keystrokes, "load": os.getloadavg()[0], "during_actions": during_keys,
        "worst": worst,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--model", default="random:ViT-B-32-256",
                        help="the model to index with: random:ARCH (random weights), demo, "
                             "or any spec photofind takes")
    parser.add_argument("--no-write", action="store_true", help="print, do not update docs")
    args = parser.parse_args()
    if args.model == "demo":
        from photofind.core.model.specs import DEMO_MODEL_DIR

        if not (DEMO_MODEL_DIR / "open_clip_config.json").exists():
            print(f"the demo model is not in {DEMO_MODEL_DIR}; pass --model", file=sys.stderr)
            return 1
    workdir = Path(tempfile.mkdtemp(prefix="photofind-gui-bench-"))
    model = args.model
    try:
        if model.startswith("random:"):
            model = random_model(model[len("random:"):], workdir / "model")
        r = run(args.photos, model, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows, lags = [], []
    for name, samples in (("indexing, while typing, scrolling, selecting", r["during"]),
                          ("after indexing: typing, scrolling, selecting", r["after"]),
                          ("scrolling 10,000 results", r["scrolling"])):
        p50, p99, worst = percentiles(samples)
        rows.append([name, f"{len(samples):,}", f"{p50:.1f}", f"{p99:.1f}", f"{worst:.1f}"])
        lags.append((name, [("p50", p50), ("p99", p99), ("max", worst)]))
    f50, f99, fmax = percentiles(r["frames"])
    searches = []
    for name, samples in (("during indexing", r["search_during"]),
                          ("after indexing", r["search_after"])):
        p50, p99, worst = percentiles(samples)
        searches.append([f"query sent → results shown, {name} (ms, {len(samples)} queries)",
                         f"{p50:.0f}", f"{p99:.0f}", f"{worst:.0f}"])
    rate = r["embedded"] / r["index_seconds"] if r["index_seconds"] else 0
    body = "\n\n".join([
        f"The real window (`QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}`, 1280×820) on a "
        f"fresh data directory: the index worker indexes {r['photos']} demo scenes with the "
        f"`{args.model}` model (first run: model load, scan, decode, embed, store; "
        f"{r['index_seconds']:.1f} s, {rate:.1f} photos/s) while queries "
        f"({', '.join(repr(q) for q in QUERIES)}) are typed key by key at {TYPE_MS} ms a key, "
        f"the grid is scrolled and a result selected after each ({r['during_actions']} of "
        f"{r['actions']} scripted actions fell during indexing). Then 10,000 results are "
        "scrolled top to bottom in 400 steps, ~60 a second, thumbnails loading as they come "
        "into view. Lag: how late a 10 ms timer fires on the GUI thread, in ms "
        "(target: p99 under 50 ms).",
        table(["phase", "ticks", "lag p50", "lag p99", "lag max"], rows),
        table(["measure", "p50", "p99", "max"], [
            ["grid repaint while scrolling 10,000 results (ms)", f"{f50:.1f}", f"{f99:.1f}",
             f"{fmax:.1f}"],
            *searches,
        ]),
        f"Load average of the machine during the run: {r['load']:.1f} on "
        f"{os.cpu_count()} cores{' (other jobs shared it)' if r['load'] > os.cpu_count() else ''}.",
        "Rerun: `python bench/gui_responsiveness.py`.",
    ])
    print(body)
    print(f"worst lags (ms, at s): {r['worst']}", file=sys.stderr)
    if not args.no_write:
        chart = Chart("GUI thread lag: how late a 10 ms timer fires", "milliseconds (lower is better)",
                      lags, targets=[("target: p99 under 50 ms", 50.0)])
        update_section("GUI responsiveness (bench/gui_responsiveness.py)",
                       body + "\n\n" + bars("gui-responsiveness", chart))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: collecting the Qt objects of a closed window after
    # QApplication (in the wrong order) can abort; the app itself exits through app.exec().
    os._exit(code)
