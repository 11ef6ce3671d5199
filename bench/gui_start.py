"""Cold start of the desktop app: from launching it to a visible window, and to the first
search answered.

    python bench/gui_start.py [--runs 5] [--photos 300] [--library DATA_DIR] [--no-write]

A demo library is indexed once (the shipped demo model, exported as `photofind demo`
does). Each run launches a fresh `photofind gui` process (`QT_QPA_PLATFORM=offscreen`)
through photofind's own `gui.app.run`, with a watcher that notes when the main window
has been shown and painted, then types a query and notes when its results are on
screen; the time is taken from just before the process is started. Runs are medians.
`--library` also measures an existing data directory, such as bench/queries.py's million
photos (`/tmp/pfbench/libraries/lib-lowrank-1000000`; its folders are offline, so the app
only opens it, as it does on every start). Such a library is first opened once by a
`Writer` loading its model, as the app's index worker does, and let finish: it exports
the model's image tower if the library lacks it (torch, once) and verifies the index.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from photofind.core.store.datadir import DataDir
from photofind.gui import app as gui_app
import photofind.gui.window as window_module

Window = window_module.MainWindow
marks = {}

class Watched(Window):
    def showEvent(self, event):
        super().showEvent(event)
        QTimer.singleShot(0, self._painted)

    def _painted(self):
        self.repaint()
        marks["shown"] = time.time()
        marks["torch_at_show"] = "torch" in sys.modules
        from PySide6.QtTest import QTest
        QTest.keyClicks(self.field, "red circle")
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._check)
        self._poll.start(5)

    def _check(self):
        if self.model.rowCount() > 0:
            self._poll.stop()
            marks["results"] = time.time()
            marks["torch"] = "torch" in sys.modules
            import json
            print("MARKS " + json.dumps(marks), flush=True)
            os._exit(0)

window_module.MainWindow = Watched
from pathlib import Path
gui_app.run(DataDir(Path(sys.argv[1])))
"""

WARM = (
    "import sys\nfrom pathlib import Path\n"
    "from photofind.core.store.datadir import DataDir\nfrom photofind.core.ingest.writer import Writer\n"
    "with Writer(DataDir(Path(sys.argv[1])), 'index') as writer:\n"
    "    writer.load_model()\n"
)


def one_run(data: Path, env: dict) -> dict:
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("the app did not show results within 180 s") from None
    line = next((x for x in out.splitlines() if x.startswith("MARKS ")), None)
    if line is None:
        raise SystemExit(f"no marks from the app: {err[-2000:]}")
    marks = json.loads(line[6:])
    return {"shown": marks["shown"] - t0, "results": marks["results"] - t0,
            "torch": marks["torch"] or marks["torch_at_show"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--library", type=Path, action="append", default=[],
                        help="an existing data directory to measure too")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pfbench-guistart-") as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(data), "demo",
                        "--count", str(args.photos)], cwd=ROOT, check=True,
                       capture_output=True)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
               "XDG_CONFIG_HOME": str(Path(tmp) / "config")}
        libraries = [(f"demo, {args.photos} photos", data)]
        for folder in args.library:
            count = json.loads(subprocess.run(
                [sys.executable, "-m", "photofind", "--data-dir", str(folder), "status",
                 "--json"], cwd=ROOT, check=True, capture_output=True, text=True).stdout)["photos"]
            libraries.append((f"{folder.name}, {count:,} photos", folder))
        rows, every, medians = [], [], []
        for name, folder in libraries:
            if folder != data:  # what the app's writer does first, let finish: exports the
                subprocess.run([sys.executable, "-c", WARM, str(folder)], cwd=ROOT, check=True)
            runs = []
            for i in range(args.runs):
                r = one_run(folder, env)
                runs.append(r)
                print(f"{name}, run {i + 1}: window shown {r['shown']:.2f} s, first results "
                      f"{r['results']:.2f} s, torch imported: {r['torch']}", flush=True)
            every += runs
            series = []
            for key, moment in (("shown", "window visible"),
                                ("results", "first search answered")):
                values = [r[key] for r in runs]
                series.append((moment, statistics.median(values)))
                rows.append([name, moment + (" ('red circle' typed)" if key == "results" else ""),
                             f"{series[-1][1]:.2f} s", f"{min(values):.2f} s",
                             f"{max(values):.2f} s"])
            medians.append((name, series))
    body = (
        f"`photofind gui` launched as a new process (`QT_QPA_PLATFORM=offscreen`) on a demo "
        f"library of {args.photos} photos (indexed and exported beforehand), and any library "
        f"given with `--library`, {args.runs} runs each; "
        "time from just before the process starts until the main window has been shown and "
        "painted, and until the results of a query typed right then are in the grid. Torch "
        f"imported by the app: {'yes' if any(r['torch'] for r in every) else 'no'}. "
        f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. Target: window "
        "≤ 1 s.\n\n" + table(["library", "moment", "median", "best", "worst"], rows)
    )
    print(body)
    if not args.no_write:
        chart = Chart("`photofind gui`: launch → window, → first results", "seconds (lower is better)",
                      medians, targets=[("target: window within 1 s", 1.0)],
                      note=f"medians of {args.runs} launches")
        update_section("GUI start-up (bench/gui_start.py)", body + "\n\n" + bars("gui-start", chart))


if __name__ == "__main__":
    main()
