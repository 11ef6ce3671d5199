"""Helpers for the desktop-app tests: real libraries, real windows, isolated settings."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings

from photofind.core.datadir import DataDir
from photofind.core.embedder import ModelSpec
from photofind.core.library import Writer

_exported: dict[str, Path] = {}


def seed_onnx_cache(data_dir: DataDir, model: str) -> None:
    """Give a fresh data directory the model's ONNX towers, exported once per test session
    (the core exports them on a model's first load in each data directory: ~10 s)."""
    from photofind.core import onnxrt
    from photofind.core.embedder import run_export

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
    return window
