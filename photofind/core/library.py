"""A photo library as photofind keeps it: a data directory, its catalog and vector index.

`Writer` is the one process allowed to change the library (it holds the writer lock);
`Searcher` reads it from any number of processes at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from photofind.core import lock as locking
from photofind.core import textquery
from photofind.core.catalog import Catalog, is_within
from photofind.core.datadir import DataDir
from photofind.core.decode import open_image
from photofind.core.embedder import Embedder, ModelSpec
from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.indexer import Indexer, IndexReport, ProgressFn
from photofind.core.mounts import root_online
from photofind.core.scanner import display_path, is_printable
from photofind.core.search.engine import prepare_background
from photofind.core.textquery import TextEncoder
from photofind.core.vectorindex import VectorIndex, read_state

MODEL_KEY = "model_spec"
Notify = Callable[[str], None]


def active_spec(catalog: Catalog) -> ModelSpec | None:
    raw = catalog.get_meta(MODEL_KEY)
    return ModelSpec.from_json(raw) if raw else None


def empty_library_error() -> PhotofindError:
    return PhotofindError(
        "the library is empty: run 'photofind index FOLDER' to add your photos, "
        "or 'photofind demo' to try photofind on a demo library"
    )


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

    def remove_root(self, root: str) -> int:
        """Forget a library root and its photos (the files themselves are never touched)."""
        ids = [k.id for k in self.catalog.known_under(root).values()]
        removed = self.catalog.remove_root(root)
        if ids:
            if self.vectors is None:
                self._open_saved_index()
            self.vectors.remove(np.array(ids, dtype=np.uint64))
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
            textquery.export(embedder, self.data_dir.models)  # for torch-free searches
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


@dataclass
class Result:
    id: int
    path: str
    score: float
    width: int | None
    height: int | None
    taken: str | None
    size: int
    format: str | None

    def to_json(self) -> dict:
        data = asdict(self)
        del data["id"]
        data["score"] = round(float(self.score), 4)
        return data


class Searcher:
    """Answers text and image queries against a library; never writes to it.

    Text queries use the model's text tower exported to ONNX when the data directory has
    it (textquery.py): no torch, no open_clip, so a `photofind search` starts in well under
    a second. The torch model is loaded only when needed (image queries, or no export)."""

    def __init__(self, data_dir: DataDir, device: str = "auto") -> None:
        self.data_dir = data_dir
        catalog = Catalog.open_for_reading(data_dir.catalog)
        spec = active_spec(catalog) if catalog else None
        if catalog is None or spec is None:
            raise empty_library_error()
        self.catalog = catalog
        self.spec = spec
        self.device = device
        self.model = spec.model_id()
        self._embedder: Embedder | None = None
        state = read_state(catalog)
        saved_dim = state.dim if state is not None and state.model == self.model else None
        self._text: TextEncoder | None = None
        loading = None
        if device in ("auto", "cpu"):
            def load_text() -> None:
                self._text = TextEncoder.cached(data_dir.models, self.model)

            if saved_dim is None:
                load_text()
            else:  # ONNX Runtime builds the session while usearch loads the index (~0.25 s)
                loading = threading.Thread(target=load_text, name="photofind-text-load",
                                           daemon=True)
                loading.start()
        if saved_dim is not None:
            dim = saved_dim
        elif self._text is not None:
            dim = self._text.dim
        else:
            dim = self.embedder.dim
        self.vectors = VectorIndex.open_for_reading(data_dir.root, catalog, self.model, dim)
        if loading is not None:
            loading.join()
            if self._text is not None and self._text.dim != dim:  # a stale export: trust it
                self.vectors = VectorIndex.open_for_reading(
                    data_dir.root, catalog, self.model, self._text.dim)

    @property
    def embedder(self) -> Embedder:
        """The model for image queries, loaded on first use: the exported ONNX image
        tower when the data directory has it (no torch), else torch. A searcher never
        exports (that is the indexer's job, and takes a while)."""
        if self._embedder is None:
            self._embedder = Embedder(self.spec, device=self.device,
                                      cache_dir=self.data_dir.models, export=False)
        return self._embedder

    def embed_text(self, text: str) -> np.ndarray:
        if self._text is not None:
            return self._text.embed(text)
        return self.embedder.embed_text(text)

    def close(self) -> None:
        self.catalog.close()

    def refresh(self) -> None:
        """Take in what the writer committed since the last query."""
        self.vectors.catch_up(self.catalog)

    def words_used(self, text: str) -> tuple[int, int] | None:
        """(words the model reads, words in `text`) when `text` is longer than the text
        tower's context and its end is cut off; None when the model reads all of it."""
        from photofind.core.tokens import words_that_fit

        tokenizer = self._text.tokenizer if self._text is not None else self.embedder.tokenizer
        encode, length = getattr(tokenizer, "encode", None), getattr(
            tokenizer, "context_length", None)
        if encode is None or not length:
            return None  # a tokenizer that cannot tell (not CLIP's BPE)
        return words_that_fit(encode, int(length), text)

    def search_text(self, text: str, limit: int = 20) -> list[Result]:
        if not text.strip():
            raise PhotofindError("the search text is empty; type what the photos show")
        return self._nearest(self.embed_text(text), limit)

    def search_image(self, path: str | Path, limit: int = 20) -> list[Result]:
        return self.search_images([path], limit)

    def search_images(self, paths: Sequence[str | Path], limit: int = 20) -> list[Result]:
        """Photos that look like all of `paths`: the nearest to the mean of their vectors."""
        tensors = []
        for path in paths:
            try:
                decoded, _hash, _size = open_image(path, self.embedder.image_size)
            except NotAnImage as exc:
                raise PhotofindError(f"cannot search with {path}: {exc}") from None
            tensors.append(self.embedder.preprocess(decoded.image))
        if not tensors:
            raise PhotofindError("no image to search with")
        mean = self.embedder.embed_images(tensors).mean(axis=0)
        return self._nearest(mean / max(float(np.linalg.norm(mean)), 1e-12), limit)

    def search_vector(self, vector, limit: int = 20) -> list[Result]:
        """Photos nearest to a vector this library's model already made (normalised)."""
        return self._nearest(vector, limit)

    def _nearest(self, vector, limit: int) -> list[Result]:
        self.refresh()
        want = max(1, min(limit, len(self.vectors)))  # never more than the library holds
        results = self._lookup(vector, want)
        if results is None:
            # the index held photos deleted (or re-embedded by another model) since it was
            # loaded: drop them, so they cannot take the place of real results
            self.vectors.drop_stale(self.catalog)
            results = self._lookup(vector, want, strict=False)
        return results

    def _lookup(self, vector, want: int, strict: bool = True) -> list[Result] | None:
        """The `want` nearest photos. A candidate no longer cataloged for this model makes a
        strict lookup return None; otherwise it is skipped."""
        ids, scores = self.vectors.search(vector, want * 2 + 16)
        photos = self.catalog.photos(int(i) for i in ids)
        results = []
        for key, score in zip(ids, scores, strict=True):
            photo = photos.get(int(key))
            if photo is None or photo.model != self.model:
                if strict:
                    return None
                continue
            results.append(Result(photo.id, photo.path, float(score), photo.width, photo.height,
                                  photo.taken, photo.size, photo.format))
            if len(results) == want:
                break
        return results


def folders(data_dir: DataDir) -> list[dict]:
    """The library folders: {"path", "photos", "online"} each (online: present, its drive
    mounted where it was, and not a bare mount point while it has photos: mounts.py). A
    reader: takes no lock."""
    catalog = Catalog.open_for_reading(data_dir.catalog)
    if catalog is None:
        return []
    try:
        return [{"path": root, "photos": count, "online": root_online(root, catalog)}
                for root, count in catalog.root_counts().items()]
    finally:
        catalog.close()


def status(data_dir: DataDir, thorough: bool = True) -> dict:
    """What the library holds. `thorough` (the `status` command) counts searchable photos
    by reading every row, which also notices damaged pages (~0.4 s at a million photos);
    the desktop app, asking after every burst of indexing, counts from the index alone."""
    catalog = Catalog.open_for_reading(data_dir.catalog)
    if catalog is None:
        return {"roots": [], "photos": 0, "failed": 0, "model": None, "offline_roots": [],
                "data_dir": str(data_dir.root), "indexing": False}
    try:
        with catalog.db.atomic():  # one snapshot: counts that agree while a writer commits
            return _status(catalog, data_dir, thorough)
    finally:
        catalog.close()


def _status(catalog: Catalog, data_dir: DataDir, thorough: bool) -> dict:
    spec = active_spec(catalog)
    model_id = spec.model_id() if spec else None
    state = read_state(catalog)
    roots = catalog.roots()
    return {
        "roots": roots,
        "photos": catalog.count_photos(),
        "failed": catalog.count_failures(),
        "model": str(spec) if spec else None,
        "offline_roots": [r for r in roots if not root_online(r, catalog)],
        "searchable": (catalog.count_searchable(model_id) if thorough
                       else catalog.count_photos(model_id)) if model_id else 0,
        "index_vectors": state.count if state else 0,
        "data_dir": str(data_dir.root),
        "indexing": locking.is_held(data_dir.lock),
    }
