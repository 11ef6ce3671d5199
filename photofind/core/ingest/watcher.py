"""The file watcher: watchdog events become *dirty scopes*, debounced per path.

A scope is a path to look at again: a file (created, modified, deleted, renamed) or a
folder subtree (a folder created, deleted or moved, in or out of the roots). Each scope
becomes *due* once no event has touched it for `quiet_s`; a folder scope absorbs the
scopes below it, so a moved folder with 10 000 photos is one scope, not 10 000. The
worker takes all due scopes at once and hands them to the indexer as one run, so both
halves of a move land in the same run.

The watcher never touches the catalog: its threads (watchdog's observer, emitter and
inotify reader threads) only record paths. It also notices when watching itself went
wrong — the kernel's event queue overflowed (events were lost) or watchdog reported an
error — and tells the worker through `on_trouble`, which answers with a rescan.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from photofind.core.ingest.scanner import is_candidate
from photofind.core.store.catalog import is_within

# What can change a photo or a folder of photos. Opening and reading (photofind's own
# reads included) and folder "modified" events (any change inside) are left out.
EVENTS = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileDeletedEvent,
    FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]

# File systems whose changes made elsewhere never reach this machine's watcher.
NETWORK_FILE_SYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ncpfs", "ceph", "glusterfs",
    "lustre", "fuse.sshfs", "fuse.rclone", "fuse.davfs2", "davfs", "fuse.glusterfs",
})

Trouble = Callable[[str, str], None]  # (kind: "overflow" | "error", message)


class DirtyScopes:
    """Paths waiting to be looked at, each with the monotonic time it becomes due.

    Every event pushes its scope's due time to `quiet_s` from now, but never further than
    `max_wait_s` after the scope's first event, so a file written without pause for
    minutes is still looked at (and deferred by the indexer while it keeps changing).
    Thread-safe: watchdog's threads add, the worker takes. `on_change` is called (outside
    the lock) whenever something was added, to wake the worker.
    """

    def __init__(self, quiet_s: float, max_wait_s: float = 10.0,
                 on_change: Callable[[], None] | None = None) -> None:
        self.quiet_s = quiet_s
        self.max_wait_s = max(max_wait_s, quiet_s)
        self.on_change = on_change or (lambda: None)
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}
        self._first: dict[str, float] = {}
        self._folders: set[str] = set()
        self._renames: list[tuple[str, str]] = []

    def add_rename(self, old: str, new: str) -> None:
        """A file or folder was renamed inside a root (both paths become scopes too)."""
        with self._lock:
            self._renames.append((old, new))

    def take_renames(self) -> list[tuple[str, str]]:
        with self._lock:
            renames, self._renames = self._renames, []
        return renames

    def add(self, path: str, *, folder: bool = False) -> None:
        """An event touched `path`."""
        now = time.monotonic()
        with self._lock:
            target = self._covering_folder(path)
            if target is None:
                target = path
                if folder:
                    prefix = path.rstrip(os.sep) + os.sep
                    for inner in [p for p in self._due if p.startswith(prefix)]:
                        self._first.setdefault(path, self._first.get(inner, now))
                        self._forget(inner)
                    self._folders.add(path)
            first = self._first.setdefault(target, now)
            self._due[target] = min(now + self.quiet_s, first + self.max_wait_s)
        self.on_change()

    def defer(self, path: str, due: float) -> None:
        """Look at `path` again at `due` (monotonic) unless an event already asked for it."""
        with self._lock:
            if path in self._due or self._covering_folder(path) is not None:
                return
            self._due[path] = due
            self._first[path] = due
        self.on_change()

    def take_due(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        with self._lock:
            due = [p for p, t in self._due.items() if t <= now]
            for path in due:
                self._forget(path)
        return due

    def next_due(self) -> float | None:
        with self._lock:
            return min(self._due.values(), default=None)

    def ready_at(self, linger: float) -> float | None:
        """When taking the due scopes is worth it: as soon as one is due, unless more are
        about to be (a storm in progress), then waiting up to `linger` to take them in one
        run and embed them in full batches. None when nothing is pending."""
        now = time.monotonic()
        with self._lock:
            if not self._due:
                return None
            times = self._due.values()
            oldest = min(times)
            if oldest > now:
                return oldest
            upcoming = [t for t in times if now < t <= now + linger]
            if not upcoming:
                return now
            return min(oldest + linger, min(upcoming))

    def _forget(self, path: str) -> None:
        del self._due[path]
        self._first.pop(path, None)
        self._folders.discard(path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._due)

    def _covering_folder(self, path: str) -> str | None:
        """A pending folder scope at or above `path` (call with the lock held)."""
        if not self._folders:
            return None
        while True:
            if path in self._folders:
                return path
            parent = os.path.dirname(path)
            if parent == path:
                return None
            path = parent


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, scopes: DirtyScopes) -> None:
        self.root = root
        self.scopes = scopes

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.is_directory and event.event_type not in ("created", "deleted", "moved"):
                return
            if event.event_type == "moved" and event.src_path and event.dest_path:
                old, new = os.fsdecode(event.src_path), os.fsdecode(event.dest_path)
                if not getattr(event, "is_synthetic", False) and is_within(old, self.root) \
                        and is_within(new, self.root):
                    self.scopes.add_rename(old, new)
            for raw in (event.src_path, getattr(event, "dest_path", "")):
                path = os.fsdecode(raw) if raw else ""
                if not path or not is_within(path, self.root) or self._hidden(path):
                    continue
                if event.is_directory:
                    self.scopes.add(path, folder=True)
                elif is_candidate(os.path.basename(path)):
                    self.scopes.add(path)
        except Exception:  # never let a surprise kill watchdog's dispatcher thread
            logging.getLogger(__name__).exception("could not record %r", event)

    def _hidden(self, path: str) -> bool:
        return (os.sep + ".") in path[len(self.root.rstrip(os.sep)):]


class _TroubleLog(logging.Handler):
    """Hears watchdog's own reports: an overflowed kernel queue, a failed watch."""

    def __init__(self, on_trouble: Trouble) -> None:
        super().__init__(logging.WARNING)
        self.on_trouble = on_trouble

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if "overflow" in message.lower():
            self.on_trouble("overflow", message)
        elif record.levelno >= logging.ERROR and "inactive" not in message:
            # (an emitter asked for events while being stopped: harmless, not trouble)
            self.on_trouble("error", message)


class Watcher:
    """One watchdog observer with a recursive watch per library root."""

    def __init__(self, scopes: DirtyScopes, on_trouble: Trouble) -> None:
        self.scopes = scopes
        self.on_trouble = on_trouble
        self._observer = None
        self._watches: dict[str, object] = {}
        self._log = _TroubleLog(on_trouble)

    def start(self) -> None:
        """Start the observer (raises OSError when the system gives no more watchers)."""
        from watchdog.observers import Observer

        # watchdog warns (RuntimeWarning) when it re-registers a folder it already watches,
        # which happens on every folder move; it is harmless and would clutter the terminal
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning,
                                module=r"watchdog\.")
        log = logging.getLogger("watchdog")
        log.addHandler(self._log)
        if log.level == logging.NOTSET:
            log.setLevel(logging.WARNING)
        observer = Observer()
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            log.removeHandler(self._log)
            raise
        self._observer = observer

    def watch(self, root: str) -> None:
        """Watch `root` recursively. Raises OSError (ENOSPC: the watch limit is reached;
        EMFILE: too many watchers) when the system cannot watch it."""
        if self._observer is None:
            raise OSError("the file watcher is not running")
        self.unwatch(root)
        self._watches[root] = self._observer.schedule(
            _Handler(root, self.scopes), root, recursive=True, event_filter=EVENTS)

    def unwatch(self, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                pass  # its emitter already stopped (the folder vanished)

    @property
    def watched(self) -> set[str]:
        return set(self._watches)

    def healthy(self, root: str) -> bool:
        """False when the root's watch is gone or its emitter thread died."""
        watch = self._watches.get(root)
        if watch is None or self._observer is None or not self._observer.is_alive():
            return False
        for emitter in list(self._observer.emitters):
            if emitter.watch == watch:
                return emitter.is_alive()
        return False

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        self._watches.clear()
        logging.getLogger("watchdog").removeHandler(self._log)
        if observer is not None:
            observer.stop()
            observer.join(timeout=2)


def filesystem_type(path: str, mounts: str = "/proc/self/mounts") -> str | None:
    """The file system type holding `path` (Linux: from /proc/self/mounts), else None."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
        if is_within(path, mount) and len(mount) >= len(best):
            best, kind = mount, parts[2]
    return kind


def needs_polling(path: str, mounts: str = "/proc/self/mounts") -> bool:
    """True for network shares: their changes made by other machines raise no events here."""
    kind = filesystem_type(path, mounts)
    return kind is not None and kind in NETWORK_FILE_SYSTEMS
