"""Helpers for the desktop-app tests: real libraries, real windows, isolated settings."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings

from photofind.core.ingest.writer import Writer
from photofind.core.model.specs import ModelSpec
from photofind.core.store.datadir import DataDir

_exported: dict[str, Path] = {}


def seed_onnx_cache(data_dir: DataDir, model: str) -> None:
    """Give a fresh data directory the model's ONNX towers, exported once per test session
    (the core exports them on a model's first load in each data directory: ~10 s)."""
    from photofind.core.model import onnxrt
    from photofind.core.model.exportrun import run_export

    if not model or not onnxrt.can_export():
        return
    spec = ModelSpec.parse(model)
    if model not in _exported:
        cache = Path(tempfile.mkdtemp(prefix="photofind-test-onnx-"))
        atexit.register(shutil.rmtree, cache, True)
        run_export(spec, cache, "int8")
        _exported[model] = cache
    source = onnxrt.folder(_exported[model], spec.model_id())
    target = onnxrt.folder(data_dir.models, spec.model_id())
    if source.is_dir() and not target.exists():
        shutil.copytree(source, target)


def build_library(data: Path, folders: list[Path], model: str) -> DataDir:
    """Index `folders` into the data directory `data` with `model` (a spec string)."""
    data_dir = DataDir(data)
    seed_onnx_cache(data_dir, model)
    with Writer(data_dir, "test") as writer:
        writer.add_roots([str(f) for f in folders])
        writer.load_model(ModelSpec.parse(model), device="cpu")
        writer.index(workers=2)
    return data_dir


def make_prefs(folder: Path, model: str = ""):
    from photofind.gui.prefs import Prefs

    folder.mkdir(parents=True, exist_ok=True)
    prefs = Prefs(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    prefs.device = "cpu"
    prefs.cores = 1
    if model:
        prefs.set_model(model)
    return prefs


def open_window(qtbot, data_dir: DataDir, prefs, **kwargs):
    """A real main window on `data_dir`, shown, once it has looked at its library (the
    answer is queued to the GUI thread, so waiting after construction misses nothing)."""
    from photofind.gui.window import MainWindow

    kwargs.setdefault("index_on_start", False)
    seed_onnx_cache(data_dir, prefs.model)
    window = MainWindow(data_dir, prefs, **kwargs)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.library_updated, timeout=30_000):
        window.show()
    # the empty box shows the library as a timeline: wait for it, so that a test's first
    # search is not answered by the timeline's page
    qtbot.waitUntil(lambda: not window.search.browsing or bool(window._answer), timeout=30_000)
    return window


def clipped_labels(root) -> list[str]:
    """The visible labels under `root` (a widget) that do not show their whole text: a
    wrapped label shorter than its text needs at its width (or with a word wider than
    it), an unwrapped one narrower or shorter than its text, or a label reaching out of
    a parent that cuts it off (inside a scroll area, scrolling shows it: not counted)."""
    from PySide6.QtCore import QPoint, QRect, QSize
    from PySide6.QtGui import Qt as GuiQt
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QAbstractScrollArea, QLabel

    problems = []
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text() or label.pixmap() and not \
                label.pixmap().isNull():
            continue
        # the part of the label its parents leave on screen (a collapsed splitter pane
        # or a page scrolled out of sight shows none of it: not a clipped label)
        shown = QRect(label.mapTo(root, QPoint(0, 0)), QSize(label.width(), label.height()))
        full, parent = QRect(shown), label.parentWidget()
        while parent is not None and parent is not root:
            if isinstance(parent.parentWidget(), QAbstractScrollArea):
                full = QRect()  # inside a scroll area: what is cut off can be scrolled to
            shown = shown.intersected(QRect(parent.mapTo(root, QPoint(0, 0)),
                                            QSize(parent.width(), parent.height())))
            parent = parent.parentWidget()
        if shown.isEmpty():
            continue
        name = f"{label.text()[:60]!r} ({label.width()}×{label.height()})"
        if not full.isNull() and shown != full:
            problems.append(f"{name}: only {shown.width()}×{shown.height()} of it is shown")
        inner = label.contentsRect().width()
        if label.wordWrap():
            needed = label.heightForWidth(label.width())
            if needed > label.height():
                problems.append(f"{name}: needs {needed} px of height")
            doc = QTextDocument()
            doc.setDocumentMargin(0)
            doc.setDefaultFont(label.font())
            rich = label.textFormat() == GuiQt.TextFormat.RichText or (
                label.textFormat() == GuiQt.TextFormat.AutoText
                and GuiQt.mightBeRichText(label.text()))
            doc.setHtml(label.text()) if rich else doc.setPlainText(label.text())
            doc.setTextWidth(inner)
            if doc.idealWidth() > inner + 1:
                problems.append(f"{name}: a word needs {doc.idealWidth():.0f} px of width")
        else:
            hint = label.sizeHint()
            if hint.width() > label.width() or hint.height() > label.height():
                problems.append(f"{name}: needs {hint.width()}×{hint.height()}")
    return problems


def settle(qtbot, window, ms: int = 50) -> None:
    """Let queued layout requests run (a resize, a new text)."""
    from PySide6.QtWidgets import QApplication

    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(ms // 3 + 1)


def show_weaker(qtbot, window) -> None:
    """Click the "Show N weaker matches" divider, when there is one, as a person would."""
    from PySide6.QtCore import Qt

    row = window.model.divider_row()
    if row is None:
        return
    point = window.view.visualRect(window.model.index(row)).center()
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.model.divider_row() is None
                    or window.model.entry(window.model.divider_row()).expanded)


def hidden_weaker(window) -> int:
    """How many weaker matches the collapsed divider stands for (0: none hidden)."""
    row = window.model.divider_row()
    entry = window.model.entry(row) if row is not None else None
    return 0 if entry is None or entry.expanded else entry.hidden
