"""The background worker: keeps the catalog and the vector index in line with the library
roots while photos come, go and move, until it is stopped.

It is the one writer for as long as it runs (it holds the writer lock, purpose "watch")
and a plain class with no Qt: `photofind watch` runs it in the foreground, the desktop app
in a background thread. It reports through callbacks, all called from its own thread:

    on_progress(Progress)  what the indexer is doing (scanning, indexing n/total, saving)
    on_burst(Burst)        after each run over a settled burst of changes (report.stopped
                           when a pause or stop cut it short: the rest is done later)
    on_note(str)           things a person should know (a folder went offline, …)
    on_error(str)          something failed; the worker carries on where it can
    on_state(WorkerState)  "starting", "scanning" (a whole root), "indexing" (changes),
                           "waiting" (changes seen, not settled yet), "idle", "paused",
                           "stopped" (a StrEnum: compares with those names)

Commands (commands.py: `AddRoots`, `RemoveRoot`, `Rescan`) may be sent from any thread
(`send`); they run on the worker's thread between batches, and a future answers each.

Its life:
1. Open the writer, load the library's model, start watchdog on every present root. A
   data disk that is full or read-only is said once and waited for (writetrouble.py).
2. Reconcile: one indexer run over every present root catches what changed while
   photofind was not running (moves reuse vectors; unchanged files cost a `stat`).
3. Then take settled scopes from the watcher (see watcher.py) and run the indexer over
   just those. Files still being written are deferred by the indexer and retried.
4. Every few seconds, look at the roots (liveroots.py): one that went missing (or whose
   drive was unmounted, see mounts.py) is offline and loses nothing, and so is a drive
   unmounted inside a root; one that comes back is watched again and rescanned. Roots
   that cannot be watched (the system's watch limit, network shares) are rescanned
   periodically; a watcher that overflowed or failed causes a rescan, said once.
5. The vector index is saved when it has changed and `save_every_s` has passed (readers
   replay newer catalog rows meanwhile) and on stop. The catalog is committed per batch,
   so a crash at any moment loses nothing: the next start reconciles. A write that fails
   (a full disk, a catalog locked by another program) is said once and tried again every
   `retry_s`; the worker keeps watching meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from photofind.core.errors import PhotofindError
from photofind.core.ingest.commands import (
    AddRoots,
    Burst,
    Command,
    RemoveRoot,
    Rescan,
    WorkerState,
)
from photofind.core.ingest.indexer import Indexer, Progress
from photofind.core.ingest.liveroots import LiveRoots, RootState
from photofind.core.ingest.watcher import DirtyScopes
from photofind.core.ingest.writetrouble import TroubleReporter, open_writer_waiting, write_problem
from photofind.core.store.catalog import is_within
from photofind.core.store.datadir import DataDir


class LibraryWorker:
    """Keeps the index current while photos change. Control it from any thread."""

    def __init__(
        self, data_dir: DataDir, *, device: str = "auto", workers: int | None = None,
        threads: int | None = None, batch_size: int = 32, quiet_s: float = 0.5,
        settle_s: float | None = None,
        retry_incomplete_s: float = 5.0, max_wait_s: float = 10.0, save_every_s: float = 10.0,
        poll_roots_s: float = 3.0, rescan_every_s: float = 30.0,
        safety_rescan_s: float | None = 3600.0, linger_s: float = 0.25, watch: bool = True,
        retry_s: float = 30.0,
        on_progress: Callable[[Progress], None] | None = None,
        on_burst: Callable[[Burst], None] | None = None,
        on_note: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.threads = threads  # the model's threads (None: one per core)
        self.device = device
        self.workers = workers
        self.batch_size = batch_size
        self.settle_s = quiet_s if settle_s is None else settle_s
        self.linger_s = linger_s
        self.retry_incomplete_s = retry_incomplete_s
        self.save_every_s = save_every_s
        self.poll_roots_s = poll_roots_s
        self.rescan_every_s = rescan_every_s
        self.safety_rescan_s = safety_rescan_s
        self.retry_s = retry_s  # after a failed write (a full disk, a locked catalog)
        self.on_progress = _guarded(on_progress)
        self.on_burst = _guarded(on_burst)
        self.on_note = _guarded(on_note)
        self.on_error = _guarded(on_error)
        self.on_state = _guarded(on_state)

        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._ready = threading.Event()
        self._commands: list[tuple[Command, Future]] = []
        self._commands_lock = threading.Lock()
        self._trouble: list[tuple[str, str]] = []
        self.scopes = DirtyScopes(quiet_s, max_wait_s, on_change=self._wake.set)
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.state = WorkerState.STOPPED

        # owned by the worker thread
        self._writer = None
        self._indexer: Indexer | None = None
        self._rescan: dict[str, str] = {}  # scope → reason, to run as soon as possible
        self._live = LiveRoots(self.scopes, self._rescan, note=self._note,
                               say_once=self._say_once, trouble=self._trouble_reported,
                               use_watcher=watch, rescan_every_s=rescan_every_s,
                               poll_roots_s=poll_roots_s)
        self._roots = self._live.roots
        self._said: set[str] = set()
        self._write_trouble = TroubleReporter(self.on_error, self._note, retry_s)

    # --- control, from any thread ----------------------------------------------------

    def start(self) -> LibraryWorker:
        """Run the worker in a background thread. Failures to start (another writer, no
        model) end the thread; `wait_ready` raises them, `failure` holds them."""
        if self._thread is not None:
            raise RuntimeError("the worker was already started")
        self._thread = threading.Thread(target=self._thread_main, name="photofind-worker",
                                        daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the worker watches the roots (True), or raise why it could not start."""
        ready = self._ready.wait(timeout)
        if self.failure is not None:
            raise self.failure
        return ready

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the worker to stop after the current batch; wait up to `timeout` seconds
        (None: forever; 0: do not wait). Safe to call from a signal handler with timeout=0."""
        self._stop.set()
        self._wake.set()
        if timeout == 0 or self._thread is None or self._thread is threading.current_thread():
            return not self.is_alive()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self) -> None:
        """Stop writing after the current batch; changes keep being collected."""
        self._paused.set()
        self._wake.set()

    def resume(self) -> None:
        self._paused.clear()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def is_idle(self) -> bool:
        """True when everything seen so far is indexed: no run under way, nothing pending
        (a file still settling counts as pending)."""
        return self.state == WorkerState.IDLE and not self._rescan and len(self.scopes) == 0

    def add_root(self, path: str) -> Future:
        """Add a library folder while running; the future gives the stored root path."""
        return self.send(AddRoots((path,)))

    def remove_root(self, path: str) -> Future:
        """Forget a library folder and its photos; the future gives how many were removed."""
        return self.send(RemoveRoot(path))

    def rescan(self, root: str | None = None) -> Future:
        """Reconcile one root (or all) with the catalog, as on start."""
        return self.send(Rescan(root or None))

    @property
    def roots(self) -> list[str]:
        return sorted(self._roots)

    @property
    def offline_roots(self) -> list[str]:
        return sorted(r for r, s in list(self._roots.items()) if not s.online)

    def send(self, command: Command) -> Future:
        """Run `command` on the worker's thread; the future gives its answer (AddRoots:
        the stored root, one path at a time; RemoveRoot: photos removed; Rescan: roots)."""
        if type(command) not in self._HANDLERS:
            raise TypeError(f"the library worker does not take {command!r}")
        future: Future = Future()
        with self._commands_lock:
            self._commands.append((command, future))
        self._wake.set()
        return future

    def _trouble_reported(self, kind: str, message: str) -> None:  # watchdog's threads
        with self._commands_lock:
            self._trouble.append((kind, message))
        self._wake.set()

    # --- the worker thread -----------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # before ready: raised by wait_ready; after: reported
            self.failure = exc
            if self._ready.is_set():
                self.on_error(str(exc) if isinstance(exc, PhotofindError)
                              else f"the worker stopped: {type(exc).__name__}: {exc}")
        finally:
            self._ready.set()

    @property
    def _watcher(self):
        return self._live.watcher

    def run(self) -> None:
        """The worker's whole life in the calling thread, until `stop()`."""
        self._set_state(WorkerState.STARTING)
        try:
            self._writer = open_writer_waiting(
                self.data_dir, lambda w: w.load_model(None, device=self.device,
                                                      threads=self.threads),
                self._stop, self._note, self.retry_s)
        except BaseException:
            self._set_state(WorkerState.STOPPED)
            raise
        try:
            if self._writer is None or self._stop.is_set():
                return
            self._indexer = Indexer(
                self._writer.catalog, self._writer.vectors, self._writer.embedder,
                workers=self.workers, batch_size=self.batch_size, on_progress=self._progress,
                should_stop=lambda: self._stop.is_set() or self._paused.is_set(),
                settle_s=self.settle_s, retry_incomplete_s=self.retry_incomplete_s,
                save_every_s=self.save_every_s, keep_decoders_s=60.0,
            )
            self._live.start_watcher()
            for root in self._writer.catalog.roots():
                self._live.roots[root] = RootState()
            self._live.poll(self._writer.catalog, startup=True)
            self._ready.set()
            self._loop()
        finally:
            self._shutdown()

    def _save_if_due(self) -> None:
        """Save the vector index when due; a failure is said once and tried again later
        (the catalog already holds everything: nothing is lost meanwhile)."""
        try:
            saved = self._indexer.save_if_due()
        except Exception as exc:
            problem = write_problem(exc, self.data_dir)
            if problem is None:
                raise
            self._write_trouble.failed(f"could not save the vector index: {problem}")
            self._indexer.last_save = time.monotonic() + self.retry_s - self.save_every_s
        else:
            if saved:
                self._write_trouble.over()

    def _loop(self) -> None:
        now = time.monotonic()
        next_poll = now + self.poll_roots_s
        next_periodic = now + self.rescan_every_s
        next_safety = now + self.safety_rescan_s if self.safety_rescan_s else float("inf")
        while not self._stop.is_set():
            self._wake.clear()
            self._run_commands()
            self._handle_trouble()
            now = time.monotonic()
            if now >= next_poll:
                self._live.poll(self._writer.catalog)
                next_poll = now + self.poll_roots_s
            if now >= next_periodic:
                for root, state in self._roots.items():
                    if state.online and state.mode == "poll":
                        self._rescan.setdefault(root, "rescan")
                next_periodic = now + self.rescan_every_s
            if now >= next_safety:
                for root, state in self._roots.items():
                    if state.online:
                        self._rescan.setdefault(root, "rescan")
                next_safety = now + self.safety_rescan_s
            if self._paused.is_set():
                self._set_state(WorkerState.PAUSED)
                self._save_if_due()
                self._wake.wait(self.poll_roots_s)
                continue
            ready_at = self.scopes.ready_at(self.linger_s)
            if self._rescan or (ready_at is not None and ready_at <= time.monotonic()):
                self._run_burst()
                continue
            self._save_if_due()
            self._set_state(WorkerState.IDLE if ready_at is None else WorkerState.WAITING)
            wake_at = [next_poll, next_periodic, next_safety]
            if ready_at is not None:
                wake_at.append(ready_at)
            if self._indexer.vectors.dirty:
                wake_at.append(self._indexer.last_save + self.save_every_s)
            self._wake.wait(max(0.0, min(wake_at) - time.monotonic()))

    def _run_burst(self) -> None:
        reasons = set(self._rescan.values())
        reason = next((r for r in ("startup", "folder back", "rescan") if r in reasons),
                      "changes")
        self._set_state(WorkerState.INDEXING if reason == "changes" else WorkerState.SCANNING)
        rescans = dict(self._rescan)
        self._rescan.clear()
        due = self.scopes.take_due()
        scopes = list(rescans) + due
        try:
            report = self._indexer.run(self._live.online, scopes,
                                       renames=self.scopes.take_renames(), save=False)
        except Exception as exc:
            problem = write_problem(exc, self.data_dir)
            if problem is None:
                problem = str(exc) if isinstance(exc, PhotofindError) \
                    else f"{type(exc).__name__}: {exc}"
            self._write_trouble.failed(f"could not bring the index up to date: {problem}")
            retry = time.monotonic() + self.retry_s
            for scope in scopes:
                self.scopes.defer(scope, retry)
            return
        if report.changes:  # it wrote: writing works
            self._write_trouble.over()
        if report.stopped:  # paused or stopping: look at all of it again later
            self._rescan.update(rescans)
            for scope in due:
                self._rescan.setdefault(scope, "changes")
        now_wall, now = time.time(), time.monotonic()
        for path, retry_at in report.deferred.items():
            self.scopes.defer(path, now + max(0.05, retry_at - now_wall))
        self.on_burst(Burst(reason, report, len(scopes)))  # also a stopped one: it wrote

    def _handle_trouble(self) -> None:
        with self._commands_lock:
            trouble, self._trouble = self._trouble, []
        if trouble:
            self._live.handle_trouble(trouble)

    # --- commands ------------------------------------------------------------------

    def _run_commands(self) -> None:
        with self._commands_lock:
            commands, self._commands = self._commands, []
        for command, future in commands:
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._HANDLERS[type(command)](self, command))
            except BaseException as exc:
                future.set_exception(exc)

    def _add(self, command: AddRoots) -> str | list[str]:
        stored = self._writer.add_roots(list(command.paths))
        self._sync_roots()
        return stored[0] if len(stored) == 1 else stored

    def _remove(self, command: RemoveRoot) -> int:
        root = os.path.realpath(os.path.expanduser(command.root))
        if root not in self._roots:
            raise PhotofindError(f"{command.root} is not a library folder")
        self._live.detach(root)
        del self._roots[root]
        self._rescan.pop(root, None)
        return self._indexer.remove_root(self._writer, root)

    def _rescan_roots(self, command: Rescan) -> int:
        chosen = [r for r, s in self._roots.items()
                  if s.online and (not command.root
                                   or is_within(os.path.realpath(command.root), r))]
        for root in chosen:
            self._rescan.setdefault(root, "rescan")
        return len(chosen)

    _HANDLERS = {AddRoots: _add, RemoveRoot: _remove, Rescan: _rescan_roots}

    def _sync_roots(self) -> None:
        self._live.sync(set(self._writer.catalog.roots()), self._writer.catalog)

    # --- helpers -------------------------------------------------------------------

    def _shutdown(self) -> None:
        self._live.stop()
        try:
            if self._indexer is not None and self._indexer.vectors.dirty:
                self._indexer.save()
        except Exception as exc:  # the catalog has it all; the next start catches up
            self.on_error(f"could not save the vector index ({exc}); it is rebuilt on next start")
        finally:
            if self._indexer is not None:
                self._indexer.close()
            if self._writer is not None:
                self._writer.close()
            with self._commands_lock:
                commands, self._commands = self._commands, []
            for _command, future in commands:
                if future.set_running_or_notify_cancel():
                    future.set_exception(PhotofindError("the worker stopped"))
            self._set_state(WorkerState.STOPPED)

    def _progress(self, progress: Progress) -> None:
        if progress.stage == "indexing":
            self._set_state(WorkerState.INDEXING)
        self.on_progress(progress)

    def _set_state(self, state: WorkerState) -> None:
        if state != self.state:
            self.state = state
            self.on_state(state)

    def _note(self, message: str) -> None:
        self.on_note(message)

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._note(message)


def _guarded(callback: Callable | None) -> Callable:
    """A callback whose failure is logged instead of stopping the worker."""
    if callback is None:
        return lambda _value: None

    def call(value) -> None:
        try:
            callback(value)
        except Exception:
            logging.getLogger(__name__).exception("a photofind worker callback failed")
    return call

