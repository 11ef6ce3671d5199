"""The GUI thread's side of searching: numbers each query, sends it to the search
worker's thread, and passes on only the answer to the newest query.

It also remembers what is being searched for (words, or the images of a find-similar),
so the same query can be sent again when the library changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from photofind.core.datadir import DataDir
from photofind.core.library import Result
from photofind.gui.search_worker import SearchWorker

log = logging.getLogger(__name__)


class SearchController(QObject):
    results = Signal(object, float, bool)  # [Result], seconds since sent, a rerun
    failed = Signal(str)
    library = Signal(dict)  # photofind.core.library.status(), plus "problem"
    # to the worker (queued: it lives on its own thread)
    _text = Signal(int, str, int)
    _images = Signal(int, list, int)
    _open = Signal()
    _library_changed = Signal()
    _device = Signal(str)

    def __init__(self, data_dir: DataDir, device: str, limit: Callable[[], int],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self.seq = 0
        self.rerun_seq = -1
        self.sent_at = 0.0
        self.text = ""  # the words searched for, or
        self.paths: list[str] = []  # the images of a find-similar
        self.cut: tuple[int, int] | None = None  # (words read, words typed): a too long query
        self.thread = QThread(self)
        self.thread.setObjectName("photofind-search")
        self.worker = SearchWorker(data_dir, device)
        self.worker.moveToThread(self.thread)
        self._text.connect(self.worker.search_text)
        self._images.connect(self.worker.search_images)
        self._open.connect(self.worker.open)
        self._library_changed.connect(self.worker.library_changed)
        self._device.connect(self.worker.set_device)
        self.worker.results.connect(self._results)
        self.worker.failed.connect(self._failed)
        self.worker.cut.connect(self._cut)
        self.worker.library.connect(self._library)
        self.thread.start()
        self._open.emit()

    @property
    def active(self) -> bool:
        return bool(self.text or self.paths)

    def search_text(self, text: str) -> None:
        self.text, self.paths, self.cut = text, [], None
        self._send(lambda seq: self._text.emit(seq, text, self.limit()))

    def search_images(self, paths: list[str]) -> None:
        self.text, self.paths = "", list(paths)
        self._send(lambda seq: self._images.emit(seq, list(paths), self.limit()))

    def clear(self) -> None:
        """No query: whatever is still on its way is stale."""
        self.text, self.paths = "", []
        self.seq += 1
        self.worker.latest = self.seq

    def rerun(self) -> None:
        """Send the current query again (the library changed); the window keeps its place."""
        if self.paths:
            self.search_images(self.paths)
        elif self.text:
            self.search_text(self.text)
        else:
            return
        self.rerun_seq = self.seq

    def library_changed(self) -> None:
        self._library_changed.emit()

    def set_device(self, device: str) -> None:
        self._device.emit(device)

    def shutdown(self, wait_ms: int = 60_000) -> None:
        self.worker.latest = self.seq + 1_000_000  # drop queued searches
        self.thread.quit()
        if not self.thread.wait(wait_ms):
            log.warning("the search worker did not stop in time")
        self.worker.close()

    def _send(self, emit: Callable[[int], None]) -> None:
        self.seq += 1
        self.worker.latest = self.seq  # the worker skips anything older
        self.sent_at = time.perf_counter()
        emit(self.seq)

    @Slot(int, object, float)
    def _results(self, seq: int, results: list[Result], _seconds: float) -> None:
        if seq == self.seq:  # else: an answer to a query the person has already changed
            self.results.emit(results, time.perf_counter() - self.sent_at,
                              seq == self.rerun_seq)

    @Slot(int, int, int)
    def _cut(self, seq: int, used: int, total: int) -> None:
        if seq == self.seq:  # arrives before the results it goes with
            self.cut = (used, total)

    @Slot(int, str)
    def _failed(self, seq: int, message: str) -> None:
        if seq == self.seq:
            self.failed.emit(message)

    @Slot(dict)
    def _library(self, info: dict) -> None:
        self.library.emit(info)
