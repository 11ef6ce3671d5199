"""The writer lock: exactly one process (index, watch or the GUI's worker) writes a data directory.

Readers (search, similar, status) take no lock. The lock is an OS-level advisory lock on a
file in the data directory, so it disappears with its process, even after `kill -9`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from photofind.core.errors import WriterBusy

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

    def acquire(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise WriterBusy(
                f"another photofind ({holder}) is updating the index in {self.path.parent}; "
                "wait for it to finish or stop it, then try again"
            ) from None
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "command": self.purpose,
                  "program": getattr(_program, "name", "") or f"photofind {self.purpose}"}
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        program = info.get("program") or f"photofind {info['command']}"
        return f"pid {info['pid']}, '{program}'"
    except (OSError, ValueError, KeyError):
        return "another process"


def is_held(path: Path) -> bool:
    """True when some process holds the writer lock (used by status)."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        _lock(fd)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


__all__ = ["WriterLock", "is_held", "set_program"]
