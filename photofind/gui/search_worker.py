"""Searches on their own thread: one `Searcher`, loaded once and kept alive.

The window sends numbered requests through queued signals. A request older than the
newest one (`latest`, set by the GUI thread as it sends) is skipped unanswered, so a
burst of keystrokes costs one search, and the window drops any stale answer that still
arrives. The worker also answers "what is in the library" (photo count, roots, model)
so the GUI thread never queries SQLite itself.

Every search is a `core.search.query.Query` answered by one `Engine` per `Searcher`
(reopened with it); the answer comes back as `Item`s (results_sections.py) with the
counts the window shows (good matches, no good match at all).
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal, Slot

from photofind.core.errors import ModelUnavailable, PhotofindError
from photofind.core.model.specs import active_spec
from photofind.core.search.engine import Engine
from photofind.core.search.query import Query
from photofind.core.search.searcher import Searcher
from photofind.core.search.status import status
from photofind.core.store.datadir import DataDir
from photofind.gui.prefs import core_device
from photofind.gui.results_sections import item_of

log = logging.getLogger(__name__)


class SearchWorker(QObject):
    library = Signal(dict)  # photofind.core.search.status.status(), plus "problem"
    unavailable = Signal(str, str)  # kind ("empty", "model", "error"), message
    results = Signal(int, object, float)  # seq, [Result], seconds
    failed = Signal(int, str)  # seq, message
    cut = Signal(int, int, int)  # seq, words the model read, words typed (a too long query)

    def __init__(self, data_dir: DataDir, device: str = "auto") -> None:
        super().__init__()
        self.data_dir = data_dir
        self.device = device
        self.latest = 0  # written by the GUI thread; a plain int is read atomically
        self.searcher: Searcher | None = None
        self.engine: Engine | None = None
        self.stack = True  # copies stacked in results (the window's setting)
        self._folders: tuple[int, list[str]] | None = None  # (photos, folders) cached
        self.problem: tuple[str, str] | None = None

    # --- opening ---------------------------------------------------------------------

    @Slot()
    def open(self) -> None:
        """Open the `Searcher` first, then count what the library holds: a query typed
        while the app starts waits for the searcher only (at a million photos, counting
        first delayed the first results by 0.4 s)."""
        self._close_searcher()
        self.problem = None
        try:
            self.searcher = Searcher(self.data_dir, device=core_device(self.device))
            self.engine = Engine(self.searcher)
        except ModelUnavailable as exc:
            self.problem = ("model", str(exc))
        except PhotofindError as exc:
            self.problem = ("error", str(exc))
        except Exception as exc:  # e.g. torch failing on a device: say so, keep going
            log.exception("could not open the library for searching")
            self.problem = ("error", f"could not open the library for searching: {exc}")
        info = self._status()
        if self.searcher is None and not info.get("model"):
            self.problem = ("empty", "no photos have been indexed yet")
        if self.problem:
            self.unavailable.emit(*self.problem)
        self._emit_library(info)

    @Slot(str)
    def set_device(self, device: str) -> None:
        if device != self.device:
            self.device = device
            self.open()

    @Slot()
    def library_changed(self) -> None:
        """The writer changed the library: take in a new model, or a first model."""
        searcher = self.searcher
        if searcher is None:
            self.open()
            return
        try:
            spec = active_spec(searcher.catalog)
        except Exception:
            spec = None
        if spec is None or spec.model_id() != searcher.model:
            self.open()
        else:
            self.refresh_library()

    @Slot()
    def refresh_library(self) -> None:
        self._emit_library(self._status())

    def _status(self) -> dict:
        try:
            return status(self.data_dir, thorough=False)
        except PhotofindError as exc:
            return {"roots": [], "photos": 0, "failed": 0, "offline_roots": [], "model": None,
                    "indexing": False, "error": str(exc)}

    def _emit_library(self, info: dict) -> None:
        info["problem"] = list(self.problem) if self.problem else None
        # the library's model as a value: the GUI thread never reads the Searcher itself
        info["spec"] = self.searcher.spec if self.searcher is not None else None
        info["folders"] = self._library_folders(info.get("photos", 0))
        self.library.emit(info)

    def _library_folders(self, photos: int) -> list[str]:
        """The folders that hold photos (for the folder chip's menu), cached per count."""
        if self.searcher is None:
            return []
        if self._folders is None or self._folders[0] != photos:
            try:
                from photofind.core.search.filters import distinct_folders

                self._folders = (photos, sorted(distinct_folders(self.searcher.catalog)))
            except Exception as exc:  # an older catalog: no folder chip, searching works
                log.info("could not list the library's folders: %s", exc)
                self._folders = (photos, [])
        return self._folders[1]

    # --- searching ---------------------------------------------------------------------

    @Slot(int, object)
    def run_query(self, seq: int, query: Query) -> None:
        """Any query (words, example photos, filters, a timeline page) → an answer dict:
        items, good (how many good matches), no_good, browses, offset, limit, query."""
        def answer(searcher: Searcher):
            if query.text:
                cut = searcher.words_used(query.text)
                if cut is not None:
                    self.cut.emit(seq, *cut)
            if self.engine is None or self.engine.searcher is not searcher:
                self.engine = Engine(searcher)
            self.engine.stack = self.stack
            found = self.engine.run(query)
            return {"items": [item_of(h) for h in found.hits], "good": found.good_count,
                    "no_good": found.no_good_match, "browses": query.browses,
                    "offset": query.offset, "limit": query.limit, "query": query}
        self._run(seq, answer)

    def _run(self, seq: int, query) -> None:
        if seq < self.latest:
            return  # a newer request is already queued behind this one
        if self.searcher is None:
            self.open()
        if self.searcher is None:
            self.failed.emit(seq, self.problem[1] if self.problem else "nothing to search yet")
            return
        started = time.perf_counter()
        try:
            found = query(self.searcher)
        except PhotofindError as exc:
            self.failed.emit(seq, str(exc))
            return
        except Exception:
            self.failed.emit(seq, "the search failed unexpectedly; see the log for details")
            raise
        self.results.emit(seq, found, time.perf_counter() - started)

    @Slot()
    def close(self) -> None:
        self._close_searcher()

    def _close_searcher(self) -> None:
        if self.searcher is not None:
            self.searcher.close()
            self.searcher = None
            self.engine = None
