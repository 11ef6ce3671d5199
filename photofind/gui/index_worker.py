"""The one writer, on its own thread: adds and removes library folders and indexes them.

It holds the data directory's `Writer` (and so the writer lock) while the app runs, and
keeps the model loaded between runs. The core reports progress through a plain
callback; this worker turns it into the `progress` signal (with a rate and an ETA) and
uses the same callback to pause: while paused, the indexer simply waits there, between
batches. `pause`, `resume` and `stop` are called directly from the GUI thread (the
worker's own thread is busy indexing); everything else arrives as queued slots.

If another photofind process holds the writer lock, `busy` says so; searching still
works, and the window asks again later.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from photofind.core.datadir import DataDir
from photofind.core.embedder import ModelSpec
from photofind.core.errors import ModelUnavailable, PhotofindError, WriterBusy
from photofind.core.indexer import IndexReport, Progress
from photofind.core.library import Writer, active_spec
from photofind.gui.prefs import core_device

log = logging.getLogger(__name__)


@dataclass
class IndexStatus:
    stage: str  # "waiting", "model", "demo", "scanning", "indexing", "saving", "done"
    done: int = 0
    total: int = 0
    rate: float = 0.0  # photos per second while running
    eta: float | None = None  # seconds left
    root: str = ""
    paused: bool = False
    model: str = ""


class IndexWorker(QObject):
    progress = Signal(object)  # IndexStatus
    finished = Signal(str, object)  # what ("index", "demo", "remove"), IndexReport | None
    failed = Signal(str)  # a one-line reason
    model_unavailable = Signal(str)
    busy = Signal(str)  # another process holds the writer lock
    note = Signal(str)  # the core's notes (model changed, index rebuilt)
    library_changed = Signal()  # roots or photos changed: searches and counts may differ

    def __init__(self, data_dir: DataDir, device: str = "auto", cores: int = 1) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.device = device
        self.cores = cores
        self.writer: Writer | None = None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._tracker: _Tracker | None = None

    # --- controls, called from the GUI thread ----------------------------------------------

    def pause(self) -> None:
        self._running.clear()
        if self._tracker:
            self._tracker.paused_now()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """Stop the current run after its batch (everything done so far is kept)."""
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # --- work, as queued slots ----------------------------------------------------------------

    @Slot(str, int)
    def configure(self, device: str, cores: int) -> None:
        changed = device != self.device
        self.device, self.cores = device, cores
        if changed and self.writer is not None:
            self.writer.embedder = None  # reloaded on the chosen device next time
            self.writer.vectors = None

    @Slot(list, str, str)
    def index(self, add_paths: list, model: str = "", pretrained: str = "") -> None:
        """Add `add_paths` as roots (if any) and bring the library up to date, with the model
        `model` (empty: the library's own, else the default)."""
        self._work("index", lambda w: self._index(w, add_paths, model, pretrained))

    @Slot(str)
    def remove_root(self, root: str) -> None:
        def remove(writer: Writer) -> None:
            writer.remove_root(root)
            self.library_changed.emit()
        self._work("remove", remove)

    @Slot(int)
    def demo(self, count: int) -> None:
        """What `photofind demo` does: write the demo scenes into the data directory and
        index them with the shipped demo model."""
        self._work("demo", lambda w: self._demo(w, count))

    @Slot()
    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # --- inside ---------------------------------------------------------------------------

    def _work(self, what: str, job) -> None:
        self._stop.clear()
        try:
            writer = self._writer()
            report = job(writer)
        except WriterBusy as exc:
            self.busy.emit(str(exc))
            return
        except ModelUnavailable as exc:
            self.progress.emit(IndexStatus("done"))
            self.model_unavailable.emit(str(exc))
            return
        except PhotofindError as exc:
            self.progress.emit(IndexStatus("done"))
            self.failed.emit(str(exc))
            return
        except Exception:
            self.progress.emit(IndexStatus("done"))
            self.failed.emit("indexing stopped after an unexpected error; see the log")
            raise
        finally:
            self._tracker = None
        self.finished.emit(what, report)

    def _writer(self) -> Writer:
        if self.writer is None:
            self.writer = Writer(self.data_dir, "gui", notify=self.note.emit)
        return self.writer

    def _load_model(self, writer: Writer, spec: ModelSpec | None) -> None:
        current = writer.embedder.spec if writer.embedder else None
        wanted = spec or active_spec(writer.catalog) or ModelSpec.default()
        if current == wanted and writer.vectors is not None:
            return
        self.progress.emit(IndexStatus("model", model=str(wanted)))
        writer.load_model(wanted, device=core_device(self.device), threads=self.cores)

    def _index(self, writer: Writer, add_paths: list, model: str, pretrained: str
               ) -> IndexReport | None:
        spec = ModelSpec.parse(model, pretrained or None) if model else None
        self._load_model(writer, spec)  # first: a missing model must not leave roots behind
        if add_paths:
            writer.add_roots([str(p) for p in add_paths])
            self.library_changed.emit()
        return self._run(writer)

    def _demo(self, writer: Writer, count: int) -> IndexReport | None:
        from photofind.demo import write_library

        demo = ModelSpec.demo()
        current = active_spec(writer.catalog)
        if current and current.model_id() != demo.model_id() and writer.catalog.count_photos():
            raise PhotofindError(
                f"this library already holds your photos, indexed with {current}; try the demo "
                "in a data directory of its own: photofind --data-dir ~/photofind-demo gui")
        self._load_model(writer, demo)
        if self._stop.is_set():
            return None
        folder = self.data_dir.root / "demo-library"
        self.progress.emit(IndexStatus("demo", total=count, root=str(folder)))
        write_library(folder, count)
        writer.add_roots([str(folder)])
        self.library_changed.emit()
        return self._run(writer)

    def _run(self, writer: Writer) -> IndexReport | None:
        if self._stop.is_set():
            return None
        tracker = self._tracker = _Tracker(self)
        report = writer.index(workers=self.cores, on_progress=tracker.update,
                              should_stop=self._stop.is_set)
        if report.added or report.updated or report.removed or report.moved:
            self.library_changed.emit()
        return report


class _Tracker:
    """Turns the core's Progress into IndexStatus (rate and ETA leave paused time out),
    and holds the indexer while the person has paused it."""

    def __init__(self, worker: IndexWorker) -> None:
        self.worker = worker
        self.started: float | None = None
        self.first_done = 0
        self.paused_for = 0.0
        self.last_emit_changes = 0.0
        self.last: IndexStatus = IndexStatus("scanning")

    def paused_now(self) -> None:
        self.last.paused = True
        self.worker.progress.emit(IndexStatus(**{**self.last.__dict__, "paused": True}))

    def update(self, p: Progress) -> None:
        now = time.monotonic()
        status = IndexStatus(p.stage, p.done, p.total, root=p.root)
        if p.stage == "indexing":
            if self.started is None:
                self.started, self.first_done = now, p.done
            elapsed = now - self.started - self.paused_for
            done = p.done - self.first_done
            if elapsed > 0 and done > 0:
                status.rate = done / elapsed
                status.eta = (p.total - p.done) / status.rate
            if now - self.last_emit_changes > 2.0:  # let counts and searches catch up
                self.last_emit_changes = now
                self.worker.library_changed.emit()
        self.last = status
        self.worker.progress.emit(status)
        self._wait_while_paused()

    def _wait_while_paused(self) -> None:
        worker = self.worker
        if worker._running.is_set():
            return
        started = time.monotonic()
        worker.progress.emit(IndexStatus(**{**self.last.__dict__, "paused": True}))
        while not worker._running.wait(0.25):
            pass
        self.paused_for += time.monotonic() - started
        if not worker._stop.is_set():
            worker.progress.emit(self.last)
