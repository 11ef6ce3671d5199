"""The write path's hands on a library: `Writer` holds the writer lock, the writable
catalog, the model and the vector index, and changes them (roots, the model, indexing).

Only the write path constructs a Writer: the library worker (`worker.py`, behind `watch`
and the desktop app) and `commands.py`'s one-shot runs (`index`, `demo`, `library
remove`); tests/test_write_path.py checks. Readers use `core.search`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from photofind.core.errors import PhotofindError
from photofind.core.ingest.indexer import Indexer, IndexReport, ProgressFn
from photofind.core.ingest.scanner import display_path, is_printable
from photofind.core.model import textencoder
from photofind.core.model.embedder import Embedder
from photofind.core.model.specs import MODEL_KEY, ModelSpec, active_spec
from photofind.core.search.engine import prepare_background
from photofind.core.store import lock as locking
from photofind.core.store.catalog import Catalog, is_within
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import VectorIndex, read_state

Notify = Callable[[str], None]


class LazyEmbedder:
    """Stands in for an `Embedder` until the model is needed (see `Writer.load_model`)."""

    def __init__(self, spec: ModelSpec, load: Callable[[], Embedder]) -> None:
        self.spec = spec
        self.model_id = spec.model_id()
        self._load = load
        self._real: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._real is not None

    def __getattr__(self, name: str):  # anything but the above: load the model first
        if name.startswith("__") or name in ("_real", "_lock", "_load"):
            raise AttributeError(name)
        with self._lock:
            if self._real is None:
                self._real = self._load()
        return getattr(self._real, name)


class Writer:
    """Holds the writer lock and the writable catalog for as long as it is open."""

    def __init__(self, data_dir: DataDir, purpose: str, notify: Notify | None = None) -> None:
        self.data_dir = data_dir.ensure()
        self.notify = notify or (lambda message: None)
        self._lock = locking.WriterLock(data_dir.lock, purpose).acquire()
        try:
            self.catalog = Catalog.open_for_writing(data_dir.catalog, data_dir.backups)
        except BaseException:
            self._lock.release()
            raise
        self.embedder: Embedder | None = None
        self.vectors: VectorIndex | None = None

    def close(self) -> None:
        self.catalog.close()
        self._lock.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- roots ---------------------------------------------------------------------

    def add_roots(self, paths: Sequence[str]) -> list[str]:
        """Check and remember library roots; returns them as stored (real, absolute paths)."""
        roots = []
        data = os.path.realpath(self.data_dir.root)
        for raw in paths:
            path = os.path.realpath(os.path.expanduser(raw))
            if not os.path.exists(path):
                raise PhotofindError(f"no such folder: {raw}")
            if not os.path.isdir(path):
                raise PhotofindError(f"{raw} is a file, not a folder; give the folder that holds it")
            if not is_printable(path):
                raise PhotofindError(f"the folder name {display_path(path)} is not valid UTF-8; "
                                     "rename the folder (or one above it) to index it")
            if is_within(data, path):
                raise PhotofindError(
                    f"photofind's data directory {data} lies inside {path}, and photofind never "
                    "writes inside a library folder; choose another --data-dir"
                )
            roots.append(path)
        for path in roots:
            self.catalog.add_root(path)
        stored = self.catalog.roots()
        return [next(r for r in stored if is_within(p, r)) for p in roots]

    def remove_root(self, root: str, save: bool = True) -> int:
        """Forget a library root and its photos (the files themselves are never touched).
        `save=False`: the caller saves the vector index (the worker's indexer, which owns
        its saves while it runs)."""
        ids = [k.id for k in self.catalog.known_under(root).values()]
        removed = self.catalog.remove_root(root)
        if ids:
            if self.vectors is None:
                self._open_saved_index()
            self.vectors.remove(np.array(ids, dtype=np.uint64))
            if save:
                self.vectors.save(self.catalog)
        return removed

    def _open_saved_index(self) -> None:
        """The saved vector index, to take photos out of it: no model needed (removing a
        folder works while the model is not on this machine)."""
        state = read_state(self.catalog)
        if state is None:
            self.load_model(lazy=True)
            return
        self.vectors = VectorIndex.open_for_writing(
            self.data_dir.root, self.catalog, state.model, state.dim, self.notify)

    # --- model ----------------------------------------------------------------------

    def load_model(self, spec: ModelSpec | None = None, device: str = "auto",
                   threads: int | None = None, backend: str = "auto",
                   precision: str = "int8", lazy: bool = False) -> Embedder:
        """Load the model to index with: the one asked for, else the library's, else the
        default. Changing the model makes it the library's model; photos are re-embedded.

        `lazy`: when the library keeps its model and has a saved index for it, the model
        is loaded only once something needs embedding, so a rescan where nothing changed
        never imports torch (it took ~5 s of a 6.5 s no-change rescan of 100k photos)."""
        current = active_spec(self.catalog)
        chosen = spec or current or ModelSpec.default()

        def load() -> Embedder:
            embedder = Embedder(chosen, device=device, cache_dir=self.data_dir.models,
                                threads=threads, backend=backend, precision=precision)
            textencoder.export(embedder, self.data_dir.models)  # for torch-free searches
            prepare_background(self.data_dir, chosen, embedder)  # for good matches
            return embedder

        state = read_state(self.catalog)
        if lazy and current == chosen and state is not None \
                and state.model == chosen.model_id():
            self.embedder = LazyEmbedder(chosen, load)
            prepare_background(self.data_dir, chosen)  # a library indexed before good matches
            self.vectors = VectorIndex.open_for_writing(
                self.data_dir.root, self.catalog, chosen.model_id(), state.dim, self.notify)
            return self.embedder
        self.embedder = load()
        if current is None or current.model_id() != self.embedder.model_id or current != chosen:
            with self.catalog.db.atomic():
                self.catalog.set_meta(MODEL_KEY, chosen.to_json())
            if current is not None and current.model_id() != self.embedder.model_id:
                self.notify(f"model changed from {current} to {chosen}: photos will be re-embedded")
        self.vectors = VectorIndex.open_for_writing(
            self.data_dir.root, self.catalog, self.embedder.model_id, self.embedder.dim,
            self.notify,
        )
        return self.embedder

    # --- indexing -------------------------------------------------------------------

    def index(self, roots: Sequence[str] | None = None, *, scopes: Sequence[str] | None = None,
              workers: int | None = None, batch_size: int = 32,
              on_progress: ProgressFn | None = None,
              should_stop: Callable[[], bool] | None = None, settle_s: float | None = None,
              retry_incomplete_s: float = 5.0, save_every_s: float | None = 60.0
              ) -> IndexReport:
        """Bring the index in line with `roots` (default: all), or only with `scopes`, paths
        inside them. `settle_s` defers files modified that recently (see indexer.py)."""
        if self.embedder is None or self.vectors is None:
            self.load_model()
        indexer = Indexer(self.catalog, self.vectors, self.embedder, workers=workers,
                          batch_size=batch_size, on_progress=on_progress, should_stop=should_stop,
                          settle_s=settle_s, retry_incomplete_s=retry_incomplete_s,
                          save_every_s=save_every_s)
        return indexer.run(roots if roots is not None else self.catalog.roots(), scopes)
