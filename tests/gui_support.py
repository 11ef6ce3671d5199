"""Helpers for the desktop-app tests: real libraries, real windows, isolated settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from photofind.core.datadir import DataDir
from photofind.core.embedder import ModelSpec
from photofind.core.library import Writer


def build_library(data: Path, folders: list[Path], model: str) -> DataDir:
    """Index `folders` into the data directory `data` with `model` (a spec string)."""
    data_dir = DataDir(data)
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
    window = MainWindow(data_dir, prefs, **kwargs)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.library_updated, timeout=30_000):
        window.show()
    return window
