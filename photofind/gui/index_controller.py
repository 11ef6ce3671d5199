"""The GUI thread's side of indexing: starts the index worker's thread, sends it work,
retries when another process holds the library, and watches a model download.

The window asks for what the person wants (add a folder, the demo, another model) and
shows what comes back; this object decides how it reaches the one writer: straight to a
running LibraryWorker, or, for the steps that need the library alone, by stopping it and
queueing the step on the worker's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from photofind.core.ingest.commands import Burst
from photofind.core.model.specs import ModelSpec
from photofind.core.store.datadir import DataDir
from photofind.gui.index_worker import IndexStatus, IndexWorker
from photofind.gui.tasks import run_in_background

log = logging.getLogger(__name__)
BUSY_RETRY_MS = 30_000


def downloading_bytes(folder: Path) -> int:
    """Bytes of model files being downloaded into the model cache (on a pool thread)."""
    total = 0
    for path in Path(folder).glob("**/*.incomplete"):
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


class IndexController(QObject):
    progress = Signal(IndexStatus)  # (with the bytes fetched while a model loads)
    finished = Signal(str, object)  # what ("burst", "index", "demo", "model", …), report
    failed = Signal(str)
    model_unavailable = Signal(str)
    busy = Signal(str)
    # to the worker (queued: it lives on its own thread)
    _go_live = Signal()
    _setup = Signal(list, str, str)
    _remove_offline = Signal(str)
    _demo = Signal(int)
    _configure = Signal(str, int)

    def __init__(self, data_dir: DataDir, device: str, cores: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.live = False
        self.indexing = False
        self.retry: Callable[[], None] | None = None  # sent again when the library is free
        self.loading_model: IndexStatus | None = None
        self.thread = QThread(self)
        self.thread.setObjectName("photofind-index")
        self.worker = IndexWorker(data_dir, device, cores)
        self.worker.moveToThread(self.thread)
        self._go_live.connect(self.worker.go_live)
        self._setup.connect(self.worker.setup)
        self._remove_offline.connect(self.worker.remove_offline)
        self._demo.connect(self.worker.demo)
        self._configure.connect(self.worker.configure)
        # Bound methods of this GUI-thread object only: PySide6 runs a lambda connected to
        # another thread's signal in that thread.
        self.worker.progress.connect(self._progress)
        self.worker.burst.connect(self._burst)
        self.worker.setup_done.connect(self._setup_done)
        self.worker.live.connect(self._live_changed)
        self.worker.failed.connect(self._failed)
        self.worker.model_unavailable.connect(self._model_unavailable)
        self.worker.busy.connect(self._busy)
        self.busy_retry = QTimer(self)
        self.busy_retry.setSingleShot(True)
        self.busy_retry.setInterval(BUSY_RETRY_MS)
        self.busy_retry.timeout.connect(self._retry)
        self.fetch_watch = QTimer(self)  # while the model loads: is it being downloaded?
        self.fetch_watch.setInterval(1000)
        self.fetch_watch.timeout.connect(self._check_download)
        self.thread.start()

    # --- what the window asks for -------------------------------------------------------

    def start(self, add_paths: list[str] | None = None, spec: ModelSpec | None = None,
              new_library_model: tuple[str, str] = ("", "")) -> None:
        """Keep the library current; with `add_paths`, add those folders; with `spec`, index
        everything again with that model. `new_library_model` (spec, pretrained) is used
        when the library has no model yet."""
        add_paths = list(add_paths or [])
        if spec is None and add_paths and all(self.worker.add_root(p) for p in add_paths):
            self.indexing = True
            return  # the running LibraryWorker adds and indexes them
        if spec is None and not add_paths:
            self._send(self._go_live.emit)
            return
        model, pretrained = ((spec.name, spec.pretrained or "") if spec
                             else new_library_model)
        self._send(lambda: self._setup.emit(add_paths, model, pretrained))

    def remove_folder(self, root: str) -> None:
        if not self.worker.remove_root(root):
            self._send(lambda: self._remove_offline.emit(root))

    def demo(self, count: int) -> None:
        self._send(lambda: self._demo.emit(count))

    def configure(self, device: str, cores: int) -> None:
        self._configure.emit(device, cores)
        if self.live:
            self._send(self._go_live.emit)  # again, on the new device and cores

    def pause(self, paused: bool) -> None:
        if paused:
            self.worker.pause()
        else:
            self.worker.resume()

    def cancel(self) -> None:
        """Stop the LibraryWorker (e.g. while its model loads); it starts again next time."""
        self.worker.interrupt()

    def interrupt_for_shutdown(self) -> None:
        """Ask the worker to stop now, so its last batch finishes while the rest closes."""
        self.busy_retry.stop()
        self.fetch_watch.stop()
        self.worker.close()

    def shutdown(self, wait_ms: int = 60_000) -> None:
        self.interrupt_for_shutdown()
        self.thread.quit()
        if not self.thread.wait(wait_ms):
            log.warning("the index worker did not stop in time")

    def _send(self, send: Callable[[], None]) -> None:
        """Run `send` on the worker's thread once the LibraryWorker (if any) has stopped;
        remember it, to send again if another writer holds the library."""
        self.retry = send
        self.indexing = True
        self.worker.interrupt()
        send()

    # --- what comes back -------------------------------------------------------------------

    @Slot(IndexStatus)
    def _progress(self, status: IndexStatus) -> None:
        self.indexing = status.stage != "done"
        self.loading_model = status if status.stage == "model" else None
        if self.loading_model is not None:
            self.fetch_watch.start()
        else:
            self.fetch_watch.stop()
        self.progress.emit(status)

    def _check_download(self) -> None:
        """A model being fetched shows up as growing `*.incomplete` files in the model
        cache (huggingface_hub's downloads); say how far it got."""
        folder = self.data_dir.models
        run_in_background(lambda: downloading_bytes(folder), self._download_size,
                          lambda exc: None)

    def _download_size(self, size: int) -> None:
        if self.loading_model is not None and size:
            self.progress.emit(replace(self.loading_model, done=size))

    @Slot(Burst)
    def _burst(self, burst: Burst) -> None:
        self.finished.emit("burst", burst.report)

    @Slot(str)
    def _setup_done(self, what: str) -> None:
        self.finished.emit(what, None)

    @Slot(bool)
    def _live_changed(self, live: bool) -> None:
        self.live = live
        if live:
            self.busy_retry.stop()
            self.retry = None

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.indexing = False
        self.failed.emit(message)

    @Slot(str)
    def _model_unavailable(self, message: str) -> None:
        self.indexing = False
        self.model_unavailable.emit(message)

    @Slot(str)
    def _busy(self, message: str) -> None:
        self.indexing = False
        self.busy_retry.start()
        self.busy.emit(message)

    def _retry(self) -> None:
        if self.retry is not None and not self.live:
            self._send(self.retry)
