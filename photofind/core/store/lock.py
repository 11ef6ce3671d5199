"""The writer lock: exactly one process (index, watch or the GUI's worker) writes a data directory.

Readers (search, similar, status) take no lock. The lock is an OS-level advisory lock, so
it disappears with its process, even after `kill -9`. It is held on the data directory
itself as well as on `writer.lock` (which names the holder): deleting or replacing the
file while a writer runs lets no second writer in (POSIX; on Windows an open file cannot
be deleted).
"""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

from photofind.core.errors import PhotofindError, WriterBusy

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl


_program = threading.local()  # what the program is to a person, for locks taken here


def set_program(name: str) -> None:
    """Name the program in the lock files this thread takes, so that a writer refused
    meanwhile names the program to close: the desktop app's worker thread does the same
    job as `photofind watch`, but the person started `photofind gui`."""
    _program.name = name


class WriterLock:
    def __init__(self, path: Path, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self._fd: int | None = None
        self._folder_fd: int | None = None

    def acquire(self) -> WriterLock:
        folder_fd = _lock_folder(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            _close(folder_fd)
            raise PhotofindError(
                f"photofind cannot write to its data folder {self.path.parent} "
                f"({exc.strerror or exc}); make it writable, or choose another with "
                "--data-dir") from None
        try:
            if folder_fd == _BUSY:
                raise OSError("the data folder is locked")
            _lock(fd)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            _close(folder_fd)
            raise WriterBusy(
                f"another photofind ({holder}) is updating the index in {self.path.parent}; "
                "wait for it to finish or stop it, then try again"
            ) from None
        holder = {"pid": os.getpid(), "command": self.purpose,
                  "program": getattr(_program, "name", "") or f"photofind {self.purpose}"}
        try:  # who holds it, for the message above (a full disk must not stop a writer)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError:
            pass
        self._fd, self._folder_fd = fd, folder_fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the lock
            self._fd = None
        _close(self._folder_fd)
        self._folder_fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


_BUSY = -2


def _lock_folder(folder: Path) -> int | None:
    """A lock on the data directory itself: its descriptor, `_BUSY` when another process
    holds it, None where folders cannot be locked (Windows, some network file systems)."""
    if os.name == "nt":  # pragma: no cover
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        return _BUSY if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) else None
    return fd


def _close(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        program = info.get("program") or f"photofind {info['command']}"
        return f"pid {info['pid']}, '{program}'"
    except (OSError, ValueError, KeyError):
        return "another process"


def is_held(path: Path) -> bool:
    """True when some process holds the writer lock (used by status). Opens nothing for
    writing: it works on a read-only data disk."""
    folder = _lock_folder(path.parent)
    if folder == _BUSY:
        return True
    _close(folder)
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDONLY if os.name != "nt" else os.O_RDWR)
    except OSError:
        return False
    try:
        _lock(fd)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


__all__ = ["WriterLock", "is_held", "set_program"]
