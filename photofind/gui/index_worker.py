"""The one writer, on its own thread: keeps the library current while the app runs.

Most of the time this thread runs the core's `LibraryWorker` (photofind.core.ingest.worker):
it holds the writer lock, reconciles the library with the disk on start, then watches
the folders and indexes what changes. Its plain callbacks become this object's signals.
Pause, resume, adding and removing folders go straight to the LibraryWorker, which is
made to be controlled from any thread.

A few things need the library to themselves, with no LibraryWorker running: the first
run (choose a model, add the first folders), the demo library, and changing the model.
Those are queued slots: the GUI first asks the LibraryWorker to stop (`interrupt`), the
slot runs once `LibraryWorker.run()` has returned, does its work through a one-shot
`WriteSession` (core/ingest/session.py: typed commands, the demo/model policy), and
starts watching again.

If another photofind process holds the writer lock, `busy` says so; searching still
works, and the window asks again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal, Slot

from photofind.core.errors import ModelUnavailable, PhotofindError, WriterBusy
from photofind.core.ingest.commands import (
    AddRoots,
    Burst,
    RemoveRoot,
    SetModel,
    WorkerState,
    WriteDemo,
)
from photofind.core.ingest.indexer import Progress
from photofind.core.ingest.session import WriteSession, demo_folder
from photofind.core.ingest.worker import LibraryWorker
from photofind.core.model.specs import ModelSpec
from photofind.core.store import lock as locking
from photofind.core.store.datadir import DataDir
from photofind.gui.prefs import core_device

log = logging.getLogger(__name__)


@dataclass
class IndexStatus:
    stage: str  # "model", "demo", "scanning", "indexing", "saving", "done"
    done: int = 0
    total: int = 0
    rate: float = 0.0  # photos per second in this run
    eta: float | None = None  # seconds left
    root: str = ""
    paused: bool = False
    model: str = ""


class IndexWorker(QObject):
    progress = Signal(IndexStatus)
    burst = Signal(Burst)  # one run over changes
    setup_done = Signal(str)  # "index", "demo", "model", "add", "remove"
    failed = Signal(str)  # a one-line reason
    model_unavailable = Signal(str)
    busy = Signal(str)  # another process holds the writer lock
    note = Signal(str)  # the core's notes (a folder went offline, the model changed, …)
    library_changed = Signal()  # roots or photos changed: searches and counts may differ
    live = Signal(bool)  # the LibraryWorker holds the library and watches it (True), or not

    def __init__(self, data_dir: DataDir, device: str = "auto", cores: int = 1,
                 watch: bool = True) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.device = device
        self.cores = cores
        self.watch = watch
        self.worker: LibraryWorker | None = None
        self._paused = False
        self._closing = False
        self._lock = threading.Lock()
        self._tracker = _Tracker(self)

    # --- controls, called from the GUI thread --------------------------------------------

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        if self.worker is not None:
            self.worker.pause()
        self._tracker.pause()

    def resume(self) -> None:
        self._paused = False
        if self.worker is not None:
            self.worker.resume()

    def interrupt(self) -> None:
        """Ask the LibraryWorker to stop after its current batch (everything done so far is
        kept), so that queued work can have the library."""
        worker = self.worker
        if worker is not None:
            worker.stop(timeout=0)

    def close(self) -> None:
        """Stop for good (the window is closing)."""
        self._closing = True
        self.interrupt()

    def add_root(self, path: str) -> bool:
        """Add a folder through the running LibraryWorker; False when none is running."""
        return self._command(lambda w: w.add_root(path), "add")

    def remove_root(self, path: str) -> bool:
        return self._command(lambda w: w.remove_root(path), "remove")

    def _command(self, send: Callable[[LibraryWorker], Future], what: str) -> bool:
        worker = self.worker
        try:
            ready = worker is not None and worker.wait_ready(0)
        except BaseException:  # it failed to start; the failure is reported elsewhere
            ready = False
        if not ready:
            return False
        send(worker).add_done_callback(lambda future: self._command_done(what, future))
        return True

    def _command_done(self, what: str, future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            self.failed.emit(str(exc) if isinstance(exc, PhotofindError)
                             else f"could not {what} the folder: {exc}")
            return
        self.library_changed.emit()
        self.setup_done.emit(what)

    # --- queued slots, on this object's thread ------------------------------------------------

    @Slot(str, int)
    def configure(self, device: str, cores: int) -> None:
        self.device, self.cores = device, cores

    @Slot()
    def go_live(self) -> None:
        """Keep the library current until `interrupt()` (runs the LibraryWorker here)."""
        if self._closing or self.worker is not None:
            return
        locking.set_program("photofind gui")  # who holds the library, as others are told
        worker = LibraryWorker(  # self.cores: the "CPU cores for indexing" setting
            self.data_dir, device=core_device(self.device), workers=self.cores,
            threads=max(1, self.cores),
            watch=self.watch, on_progress=self._tracker.update, on_burst=self._on_burst,
            on_note=self.note.emit, on_error=self._on_error, on_state=self._tracker.state)
        if self._paused:
            worker.pause()
        with self._lock:
            self.worker = worker
        self._tracker.live = False
        try:
            self._guard(worker.run)
        finally:
            with self._lock:
                self.worker = None
            self.progress.emit(IndexStatus("done"))
            if self._tracker.live:
                self._tracker.live = False
                self.live.emit(False)

    @Slot(list, str, str)
    def setup(self, add_paths: list, model: str = "", pretrained: str = "") -> None:
        """Choose the model (empty: the library's, else the default) and add folders; then
        keep the library current. The model is loaded first, so a model that cannot be had
        leaves nothing half-done."""
        spec = ModelSpec.parse(model, pretrained or None) if model else None

        def job(session: WriteSession) -> None:
            self._load_model(session, spec)
            if add_paths:
                session.run(AddRoots(tuple(str(p) for p in add_paths)))
        self._session("index" if add_paths else "model", job)

    @Slot(int)
    def demo(self, count: int) -> None:
        """What `photofind demo` does: write the demo scenes into the data directory and
        index them with the shipped demo model (here: by the LibraryWorker, with progress)."""
        def job(session: WriteSession) -> None:
            problem = session.demo_conflict()
            if problem is not None:
                raise problem
            self._load_model(session, ModelSpec.demo())
            folder = demo_folder(self.data_dir)
            self.progress.emit(IndexStatus("demo", total=count, root=str(folder)))
            session.run(WriteDemo(count, device=core_device(self.device), threads=self.cores))
        self._session("demo", job)

    @Slot(str)
    def remove_offline(self, root: str) -> None:
        """Remove a folder when no LibraryWorker runs (e.g. the model is unavailable)."""
        self._session("remove", lambda session: session.run(RemoveRoot(root)))

    # --- inside ------------------------------------------------------------------------------

    def _session(self, what: str, job: Callable[[WriteSession], None]) -> None:
        if self._closing:
            return
        locking.set_program("photofind gui")

        def run() -> None:
            with WriteSession(self.data_dir, "gui", notify=self.note.emit, face="gui") as session:
                job(session)
        if not self._guard(run):
            self.progress.emit(IndexStatus("done"))
            return
        self.library_changed.emit()
        self.setup_done.emit(what)
        self.go_live()

    def _guard(self, work: Callable[[], None]) -> bool:
        """Run `work`, turning expected failures into signals; True when it succeeded."""
        try:
            work()
            return True
        except WriterBusy as exc:
            self.busy.emit(str(exc))
        except ModelUnavailable as exc:
            self.model_unavailable.emit(str(exc))
        except PhotofindError as exc:
            self.failed.emit(str(exc))
        except Exception:
            self.failed.emit("updating the library stopped after an unexpected error; "
                             "see the log")
            raise
        return False

    def _load_model(self, session: WriteSession, spec: ModelSpec | None) -> None:
        wanted = session.model_for(spec)
        self.progress.emit(IndexStatus("model", model=str(wanted)))
        session.run(SetModel(wanted, device=core_device(self.device), threads=self.cores))

    def _on_burst(self, burst: Burst) -> None:
        report = burst.report
        if report.added or report.updated or report.removed or report.moved:
            self.library_changed.emit()
        self.burst.emit(burst)

    def _on_error(self, message: str) -> None:
        log.warning("library worker: %s", message)
        self.note.emit(message[0].upper() + message[1:] if message else message)


class _Tracker:
    """Turns the LibraryWorker's progress and state into IndexStatus, with a rate and an
    ETA for the run in progress."""

    def __init__(self, worker: IndexWorker) -> None:
        self.worker = worker
        self.started: float | None = None
        self.first_done = 0
        self.last = IndexStatus("done")
        self.last_changed = 0.0
        self.live = False  # the LibraryWorker holds the library (past "starting")

    def state(self, state: WorkerState) -> None:
        if state not in (WorkerState.STARTING, WorkerState.STOPPED) and not self.live:
            self.live = True
            self.worker.live.emit(True)
        if state == WorkerState.STARTING:
            self._emit(IndexStatus("model"))
        elif state == WorkerState.SCANNING:
            self._emit(IndexStatus("scanning"))
        elif state == WorkerState.PAUSED:
            self.pause()
        elif state in (WorkerState.IDLE, WorkerState.STOPPED):
            self.started = None
            self._emit(IndexStatus("done"))

    def pause(self) -> None:
        stage = self.last.stage if self.last.stage in ("indexing", "scanning") else "indexing"
        self._emit(replace(self.last, stage=stage, paused=True, rate=0.0, eta=None))

    def update(self, p: Progress) -> None:
        if p.stage == "done":
            return  # the state ("idle") says it
        now = time.monotonic()
        status = IndexStatus(p.stage, p.done, p.total, root=p.root)
        if p.stage == "indexing":
            last = self.last
            if self.started is None or last.stage != "indexing" or p.total != last.total \
                    or p.done < last.done:
                self.started, self.first_done = now, p.done  # a new run
            elapsed = now - self.started
            done = p.done - self.first_done
            if elapsed > 0 and done > 0:
                status.rate = done / elapsed
                status.eta = (p.total - p.done) / status.rate
            if now - self.last_changed > 2.0:  # let counts and searches catch up
                self.last_changed = now
                self.worker.library_changed.emit()
        self._emit(status)

    def _emit(self, status: IndexStatus) -> None:
        self.last = status
        self.worker.progress.emit(status)
