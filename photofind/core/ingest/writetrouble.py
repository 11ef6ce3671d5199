"""Writes that fail for a while: a full or read-only data disk, a catalog that another
program keeps locked. The background worker says such a problem once, keeps everything it
has (the catalog is committed per batch), and tries again every `retry_s` until it works.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from photofind.core.errors import DiskFull, disk_full, is_disk_full
from photofind.core.store.datadir import DataDir


def write_problem(exc: BaseException, data_dir: DataDir) -> str | None:
    """One line for a write that failed for a reason that may pass; None for anything
    else (a bug, a damaged catalog: those are not waited out)."""
    if isinstance(exc, DiskFull):
        return str(exc)
    if is_disk_full(exc):
        return str(disk_full(data_dir.root, exc))
    if "database is locked" in str(exc) or "database table is locked" in str(exc):
        return (f"another program keeps photofind's catalog {data_dir.catalog} locked; "
                "close it to let photofind write")
    return None


class TroubleReporter:
    """Says each write problem once while writing fails (not at every retry), and once
    that it is over when a write works again."""

    def __init__(self, on_error: Callable[[str], None], note: Callable[[str], None],
                 retry_s: float) -> None:
        self.on_error = on_error
        self.note = note
        self.retry_s = retry_s
        self.said: set[str] = set()

    def failed(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            self.on_error(f"{message}; trying again every {self.retry_s:g} s")

    def over(self) -> None:
        if self.said:
            self.note("writing works again; catching up")
        self.said.clear()


def open_writer_waiting(data_dir: DataDir, load: Callable, stop: threading.Event,
                        note: Callable[[str], None], retry_s: float):
    """A `Writer` for `photofind watch` with the library's model loaded by `load(writer)`.
    While the data disk is full or read-only (or the catalog locked), says why once and
    tries again every `retry_s`; None when `stop` is set meanwhile."""
    from photofind.core.ingest.writer import Writer

    said = ""
    while True:
        writer = None
        try:
            writer = Writer(data_dir, "watch", notify=note)
            load(writer)
            if said:
                note("the data folder can be written again; starting")
            return writer
        except Exception as exc:
            if writer is not None:
                writer.close()
            problem = write_problem(exc, data_dir)
            if problem is None:
                raise
            if problem != said:
                note(f"waiting to start: {problem}; trying again every {retry_s:g} s")
                said = problem
            if stop.wait(retry_s):
                return None
