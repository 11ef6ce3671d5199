"""The GUI thread's side of searching: numbers each query, sends it to the search
worker's thread, and passes on only the answer to the newest query.

It also remembers what is being searched for (the search box's text, the images of a
find-similar, the sort), so the same query can be sent again when the library changed.
Everything goes out as one `Query` (core/search/query.py); an empty box with no photo
browses the library (the timeline), page by page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from photofind.core.search.query import Query, parse
from photofind.core.store.datadir import DataDir
from photofind.gui.search_worker import SearchWorker

log = logging.getLogger(__name__)
PAGE = 400  # timeline photos per page


class SearchController(QObject):
    results = Signal(object, float, bool)  # answer dict (search_worker.run_query), seconds, a rerun
    failed = Signal(str)
    library = Signal(dict)  # photofind.core.search.status.status(), plus "problem"
    # to the worker (queued: it lives on its own thread)
    _query = Signal(int, object)
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
        self.sort = "relevance"
        self.query: Query | None = None  # the last one sent
        self.browsing = False  # the timeline is shown (no words, no photo)
        self.cut: tuple[int, int] | None = None  # (words read, words typed): a too long query
        self.thread = QThread(self)
        self.thread.setObjectName("photofind-search")
        self.worker = SearchWorker(data_dir, device)
        self.worker.moveToThread(self.thread)
        self._query.connect(self.worker.run_query)
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

    def build(self, text: str, paths: list[str] | None = None, offset: int = 0) -> Query:
        """The box's text (the query language; raises QueryError), the photos of a
        find-similar and the sort, as one Query."""
        query = parse(text)
        paths = list(paths or [])
        query = query.with_options(examples=tuple(paths) + query.examples, sort=self.sort)
        if query.browses:
            return query.with_options(limit=PAGE, offset=offset)
        return query.with_options(limit=self.limit())

    def search_text(self, text: str) -> None:
        """Raises QueryError for a query that cannot mean anything (said in the window)."""
        query = self.build(text)
        self.text, self.paths, self.cut = text, [], None
        self._run(query)

    def search_images(self, paths: list[str], text: str = "") -> None:
        query = self.build(text, paths)
        self.text, self.paths = text, list(paths)
        self._run(query)

    def browse(self, text: str = "") -> None:
        """The library newest (or oldest) first, filtered by `text`'s filters."""
        query = self.build(text)
        self.text, self.paths = text, []
        self._run(query)

    def more(self) -> bool:
        """The timeline's next page (answered like any query, with offset > 0)."""
        if self.query is None or not self.query.browses:
            return False
        self._run(self.query.with_options(offset=self.query.offset + self.query.limit))
        return True

    def _run(self, query: Query) -> None:
        self.query = query
        self.browsing = query.browses and not self.paths
        self._send(lambda seq: self._query.emit(seq, query))

    def clear(self) -> None:
        """No query: whatever is still on its way is stale."""
        self.text, self.paths, self.query, self.browsing = "", [], None, False
        self.seq += 1
        self.worker.latest = self.seq

    def rerun(self) -> None:
        """Send the current query again (the library changed); the window keeps its place."""
        if self.query is None:
            return
        if self.query.browses and self.query.offset:  # the timeline: all pages shown
            self._run(self.query.with_options(offset=0,
                                              limit=self.query.offset + self.query.limit))
        else:
            self._run(self.query)
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
    def _results(self, seq: int, results: dict, _seconds: float) -> None:
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
