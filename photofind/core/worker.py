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
    on_state(str)          "starting", "scanning" (a whole root), "indexing" (changes),
                           "waiting" (changes seen, not settled yet), "idle", "paused",
                           "stopped"

Its life:
1. Open the writer, load the library's model, start watchdog on every present root.
2. Reconcile: one indexer run over every present root catches what changed while
   photofind was not running (moves reuse vectors; unchanged files cost a `stat`).
3. Then take settled scopes from the watcher (see watcher.py) and run the indexer over
   just those. Files still being written are deferred by the indexer and retried.
4. Every few seconds, look at the roots: one that went missing (or empty, like an
   unplugged drive's mount point) is offline and loses nothing; one that comes back is
   watched again and rescanned. Roots that cannot be watched (the system's watch limit,
   network shares) are rescanned periodically; a watcher that overflowed or failed
   causes a rescan, said once.
5. The vector index is saved when it has changed and `save_every_s` has passed (readers
   replay newer catalog rows meanwhile) and on stop. The catalog is committed per batch,
   so a crash at any moment loses nothing: the next start reconciles.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from photofind.core.catalog import is_within
from photofind.core.datadir import DataDir
from photofind.core.errors import PhotofindError
from photofind.core.indexer import Indexer, IndexReport, Progress, root_online
from photofind.core.watcher import DirtyScopes, Watcher, needs_polling


@dataclass
class Burst:
    """One indexer run of the worker."""

    reason: str  # "startup", "changes", "rescan", "folder back"
    report: IndexReport
    scopes: int
    started: float = field(default_factory=time.time)


@dataclass
class _Root:
    online: bool = False
    identity: tuple[int, int] | None = None
    mode: str = "offline"  # "watch", "poll" or "offline"


class LibraryWorker:
    """Keeps the index current while photos change. Control it from any thread."""

    def __init__(
        self, data_dir: DataDir, *, device: str = "auto", workers: int | None = None,
        threads: int | None = None, batch_size: int = 32, quiet_s: float = 0.5,
        settle_s: float | None = None,
        retry_incomplete_s: float = 5.0, max_wait_s: float = 10.0, save_every_s: float = 10.0,
        poll_roots_s: float = 3.0, rescan_every_s: float = 30.0,
        safety_rescan_s: float | None = 3600.0, linger_s: float = 0.25, watch: bool = True,
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
        self.use_watcher = watch
        self.on_progress = _guarded(on_progress)
        self.on_burst = _guarded(on_burst)
        self.on_note = _guarded(on_note)
        self.on_error = _guarded(on_error)
        self.on_state = _guarded(on_state)

        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._ready = threading.Event()
        self._commands: list[tuple[str, str, Future]] = []
        self._commands_lock = threading.Lock()
        self._trouble: list[tuple[str, str]] = []
        self.scopes = DirtyScopes(quiet_s, max_wait_s, on_change=self._wake.set)
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.state = "stopped"

        # owned by the worker thread
        self._writer = None
        self._indexer: Indexer | None = None
        self._watcher: Watcher | None = None
        self._roots: dict[str, _Root] = {}
        self._rescan: dict[str, str] = {}  # scope → reason, to run as soon as possible
        self._said: set[str] = set()
        self._last_error = ""

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
        return self.state == "idle" and not self._rescan and len(self.scopes) == 0

    def add_root(self, path: str) -> Future:
        """Add a library folder while running; the future gives the stored root path."""
        return self._command("add", path)

    def remove_root(self, path: str) -> Future:
        """Forget a library folder and its photos; the future gives how many were removed."""
        return self._command("remove", path)

    def rescan(self, root: str | None = None) -> Future:
        """Reconcile one root (or all) with the catalog, as on start."""
        return self._command("rescan", root or "")

    @property
    def roots(self) -> list[str]:
        return sorted(self._roots)

    @property
    def offline_roots(self) -> list[str]:
        return sorted(r for r, s in list(self._roots.items()) if not s.online)

    def _command(self, kind: str, path: str) -> Future:
        future: Future = Future()
        with self._commands_lock:
            self._commands.append((kind, path, future))
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

    def run(self) -> None:
        """The worker's whole life in the calling thread, until `stop()`."""
        from photofind.core.library import Writer

        self._set_state("starting")
        try:
            self._writer = Writer(self.data_dir, "watch", notify=self._note)
        except BaseException:
            self._set_state("stopped")
            raise
        try:
            self._writer.load_model(None, device=self.device, threads=self.threads)
            if self._stop.is_set():
                return
            self._indexer = Indexer(
                self._writer.catalog, self._writer.vectors, self._writer.embedder,
                workers=self.workers, batch_size=self.batch_size, on_progress=self._progress,
                should_stop=lambda: self._stop.is_set() or self._paused.is_set(),
                settle_s=self.settle_s, retry_incomplete_s=self.retry_incomplete_s,
                save_every_s=self.save_every_s, keep_decoders_s=60.0,
            )
            self._start_watcher()
            for root in self._writer.catalog.roots():
                self._roots[root] = _Root()
            self._poll_roots(startup=True)
            self._ready.set()
            self._loop()
        finally:
            self._shutdown()

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
                self._poll_roots()
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
                self._set_state("paused")
                self._indexer.save_if_due()
                self._wake.wait(self.poll_roots_s)
                continue
            ready_at = self.scopes.ready_at(self.linger_s)
            if self._rescan or (ready_at is not None and ready_at <= time.monotonic()):
                self._run_burst()
                continue
            self._indexer.save_if_due()
            self._set_state("idle" if ready_at is None else "waiting")
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
        self._set_state("indexing" if reason == "changes" else "scanning")
        rescans, self._rescan = self._rescan, {}
        due = self.scopes.take_due()
        scopes = list(rescans) + due
        online = [r for r, s in self._roots.items() if s.online]
        try:
            report = self._indexer.run(online, scopes, renames=self.scopes.take_renames(),
                                       save=False)
        except Exception as exc:
            message = str(exc) if isinstance(exc, PhotofindError) else f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                self.on_error(f"could not bring the index up to date: {message}; "
                              "trying again in 30 s")
            self._last_error = message
            retry = time.monotonic() + 30
            for scope in scopes:
                self.scopes.defer(scope, retry)
            return
        self._last_error = ""
        if report.stopped:  # paused or stopping: look at all of it again later
            self._rescan.update(rescans)
            for scope in due:
                self._rescan.setdefault(scope, "changes")
        now_wall, now = time.time(), time.monotonic()
        for path, retry_at in report.deferred.items():
            self.scopes.defer(path, now + max(0.05, retry_at - now_wall))
        self.on_burst(Burst(reason, report, len(scopes)))  # also a stopped one: it wrote

    # --- roots ---------------------------------------------------------------------

    def _start_watcher(self) -> None:
        if not self.use_watcher:
            return
        watcher = Watcher(self.scopes, self._trouble_reported)
        try:
            watcher.start()
        except OSError as exc:
            self._note(f"cannot watch folders for changes ({exc.strerror or exc}); "
                       f"checking them every {self.rescan_every_s:g} s instead")
            return
        self._watcher = watcher

    def _attach(self, root: str) -> None:
        """Watch a root that is present, or fall back to periodic rescans."""
        state = self._roots[root]
        state.mode = "poll"
        if self._watcher is None:
            return
        if needs_polling(root):
            self._say_once(f"network:{root}",
                           f"{root} is a network folder, where changes made elsewhere raise no "
                           f"events; checking it every {self.rescan_every_s:g} s")
            return
        try:
            self._watcher.watch(root)
            state.mode = "watch"
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                why = ("the system's limit on watched folders is reached; raise "
                       "fs.inotify.max_user_watches to watch it")
            else:
                why = exc.strerror or str(exc)
            self._say_once(f"limit:{root}", f"cannot watch {root} for changes ({why}); "
                           f"checking it every {self.rescan_every_s:g} s instead")

    def _detach(self, root: str) -> None:
        if self._watcher is not None:
            self._watcher.unwatch(root)
        self._roots[root].mode = "offline"

    def _poll_roots(self, startup: bool = False) -> None:
        catalog = self._writer.catalog
        for root, state in self._roots.items():
            online = root_online(root, catalog)
            identity = _identity(root) if online else None
            if online and not state.online:
                if not startup:
                    self._note(f"library folder {root} is back; catching up")
                state.online, state.identity = True, identity
                self._attach(root)
                self._rescan[root] = "startup" if startup else "folder back"
            elif not online and (state.online or startup):
                self._note(f"library folder {root} is offline (missing or empty); its photos "
                           f"are kept, and it is checked every {self.poll_roots_s:g} s")
                state.online, state.identity = False, None
                self._detach(root)
            elif online and identity != state.identity:  # replugged or replaced in between
                self._note(f"library folder {root} was replaced; catching up")
                state.identity = identity
                self._attach(root)
                self._rescan[root] = "folder back"
            elif online and state.mode == "watch" and not self._watcher.healthy(root):
                self._note(f"the file watcher for {root} stopped; watching it again")
                self._attach(root)
                self._rescan[root] = "rescan"

    def _handle_trouble(self) -> None:
        with self._commands_lock:
            trouble, self._trouble = self._trouble, []
        if not trouble:
            return
        kinds = {kind for kind, _ in trouble}
        if "overflow" in kinds:
            self._say_once("overflow", "too many changes at once for the file watcher (its event "
                           "queue overflowed); rescanning the library so nothing is missed")
        if "error" in kinds:
            self._say_once("watch-error", "the file watcher reported a problem "
                           f"({next(m for k, m in trouble if k == 'error')}); rescanning")
            for root, state in self._roots.items():
                if state.online and state.mode == "watch" and not self._watcher.healthy(root):
                    self._attach(root)
        for root, state in self._roots.items():
            if state.online:
                self._rescan.setdefault(root, "rescan")

    # --- commands ------------------------------------------------------------------

    def _run_commands(self) -> None:
        with self._commands_lock:
            commands, self._commands = self._commands, []
        for kind, path, future in commands:
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(getattr(self, f"_do_{kind}")(path))
            except BaseException as exc:
                future.set_exception(exc)

    def _do_add(self, path: str) -> str:
        (stored,) = self._writer.add_roots([path])
        self._sync_roots()
        return stored

    def _do_remove(self, path: str) -> int:
        root = os.path.realpath(os.path.expanduser(path))
        if root not in self._roots:
            raise PhotofindError(f"{path} is not a library folder")
        self._detach(root)
        del self._roots[root]
        self._rescan.pop(root, None)
        removed = self._writer.remove_root(root)
        self._indexer.last_save = time.monotonic()
        return removed

    def _do_rescan(self, path: str) -> int:
        chosen = [r for r, s in self._roots.items()
                  if s.online and (not path or is_within(os.path.realpath(path), r))]
        for root in chosen:
            self._rescan.setdefault(root, "rescan")
        return len(chosen)

    def _sync_roots(self) -> None:
        stored = set(self._writer.catalog.roots())
        for root in [r for r in self._roots if r not in stored]:  # merged into a new root
            self._detach(root)
            del self._roots[root]
        for root in sorted(stored - set(self._roots)):
            state = self._roots[root] = _Root()
            if root_online(root, self._writer.catalog):
                state.online, state.identity = True, _identity(root)
                self._attach(root)
                self._rescan[root] = "rescan"
            else:
                self._note(f"library folder {root} is offline (missing or empty); it is "
                           f"checked every {self.poll_roots_s:g} s")

    # --- helpers -------------------------------------------------------------------

    def _shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        try:
            if self._indexer is not None and self._indexer.vectors.dirty:
                self._indexer.save()
        except Exception as exc:  # the catalog has it all; the next start catches up
            self.on_error(f"could not save the vector index ({exc}); it is rebuilt on next start")
        finally:
            if self._indexer is not None:
                self._indexer.close()
            self._writer.close()
            with self._commands_lock:
                commands, self._commands = self._commands, []
            for _kind, _path, future in commands:
                if future.set_running_or_notify_cancel():
                    future.set_exception(PhotofindError("the worker stopped"))
            self._set_state("stopped")

    def _progress(self, progress: Progress) -> None:
        if progress.stage == "indexing":
            self._set_state("indexing")
        self.on_progress(progress)

    def _set_state(self, state: str) -> None:
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


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
