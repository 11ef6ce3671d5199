"""The vector index: usearch HNSW, cosine metric, key = the photo's catalog id.

The index holds the vectors of one model and can always be rebuilt from the catalog.
Saving is atomic and versioned: the index is written to a temporary file, fsynced and
renamed to `vectors-<seq>.usearch`; then the catalog's meta row `index_state` (file
name, model, dimension, count, checksum, last `seq` included) is committed. A reader
therefore always finds a complete file that matches the state it read, and a writer
that crashes anywhere in between leaves either the old state or the new one.

On open, anything that disagrees (missing file, other model or dimension, bad checksum,
failed load, wrong count) makes the writer rebuild from the catalog and say why.
Changes committed to the catalog after the last save (rows with a higher `seq`) are
replayed, so a save is not needed after every batch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

try:  # before usearch: importing onnxruntime after usearch crashes (their C++ runtimes clash)
    import onnxruntime  # noqa: F401
except ImportError:  # pragma: no cover - a declared dependency
    pass
from usearch.index import Index  # noqa: E402

from photofind.core.store.catalog import Catalog

STATE_KEY = "index_state"
Notify = Callable[[str], None]


@dataclass
class IndexState:
    file: str
    model: str
    dim: int
    count: int
    seq: int
    checksum: str
    # the file as the writer left it: size, mtime_ns, ctime_ns, inode (see `identity`)
    stat: list[int] | None = None


def checksum(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_checksum(path: Path) -> str:
    """`checksum` of a file's bytes, read in chunks (an index at 1M photos is 1.2 GB)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def identity(path: Path) -> list[int]:
    """What says a file is still the one the writer saved: any write, truncation, copy or
    replacement changes its size, ctime or inode (a ctime cannot be set back)."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def read_state(catalog: Catalog) -> IndexState | None:
    raw = catalog.get_meta(STATE_KEY)
    if not raw:
        return None
    try:
        return IndexState(**json.loads(raw))
    except (TypeError, ValueError):
        return None


# Search breadth. On clustered CLIP-like vectors (bench/queries.py, lowrank), recall@10
# against exact float32 search at 100k photos: 0.990 / 0.995 / 0.996 with 256 / 512 / 1024.
# At 1M it depends on the build: 0.959 / 0.975 / 0.995 in one, 0.982 with 1024, 0.987 with
# 2048 and 0.992 with 4096 in another (the graph misses what exact search finds; float16
# is not the limit: an exact scan of the float16 vectors has recall 1.000). So the breadth
# grows with the library (see docs/decisions.md).
EXPANSION_SEARCH = 1024
EXPANSION_SEARCH_LARGE = 4096
LARGE = 500_000


def breadth(count: int) -> int:
    return EXPANSION_SEARCH_LARGE if count > LARGE else EXPANSION_SEARCH


# Up to this many photos a search compares the query with every vector (usearch's SIMD
# float16 scan: ~5 ms at 100k × 512 here, ~52 ms at 1M): exact results, and no photo left
# unreachable in the HNSW graph (it happens among near-duplicate vectors: a search for
# every photo returned all but one). Above it, the HNSW graph (~7 ms at 1M).
EXACT_UP_TO = 100_000


def new_usearch(dim: int) -> Index:
    return Index(ndim=dim, metric="cos", dtype="f16", connectivity=16,
                 expansion_add=128, expansion_search=EXPANSION_SEARCH)


class VectorIndex:
    def __init__(self, folder: Path, model: str, dim: int, index: Index, seq: int,
                 mapped: bool = False) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.index = index
        self.index.expansion_search = breadth(len(index))  # saved files don't keep it
        self.seq = seq  # every catalog change up to this seq is in `index`
        self.dirty = False
        self.mapped = mapped  # `index` is a read-only view of a saved file (readers)

    def __len__(self) -> int:
        return len(self.index)

    # --- opening -----------------------------------------------------------------

    @classmethod
    def open_for_writing(cls, folder: Path, catalog: Catalog, model: str, dim: int,
                         notify: Notify) -> VectorIndex:
        state = read_state(catalog)
        problem, loaded = _load(folder, state, model, dim)
        if loaded is None:
            if catalog.count_photos(model) > 0 or (state and state.model == model):
                notify(f"rebuilding the vector index from the catalog: {problem}")
            return cls.rebuild(folder, catalog, model, dim)
        vi = cls(folder, model, dim, loaded, state.seq)
        vi.drop_stale(catalog)
        vi.catch_up(catalog)
        # the writer reads every row once here (readers don't): damaged photo pages are
        # found before any work, and said in one line (tests/faults/test_corrupt_files.py)
        if len(vi) != catalog.count_searchable(model):
            notify("rebuilding the vector index from the catalog: it disagrees with the catalog "
                   f"({len(vi)} vectors for {catalog.count_searchable(model)} photos)")
            return cls.rebuild(folder, catalog, model, dim)
        if vi.dirty:
            vi.save(catalog)
        else:
            now = identity(folder / state.file)
            if state.stat != now:  # copied, restored, or saved by an older photofind: the
                state.stat = now   # checksum was verified just now, so readers may trust it
                with catalog.db.atomic():
                    catalog.set_meta(STATE_KEY, json.dumps(asdict(state)))
            vi.remove_other_files(keep=state.file, catalog=catalog)
        return vi

    @classmethod
    def open_for_reading(cls, folder: Path, catalog: Catalog, model: str, dim: int
                         ) -> VectorIndex:
        """Map the saved index file and replay newer catalog rows; never writes.

        The file is memory-mapped (a million photos open in ~0.1 s instead of ~1.7 s of
        checksum and load) and its checksum is checked only when the file is not, by its
        size, times and inode, the one the writer verified and saved (see `identity`). The
        first change a reader needs (rows committed since the save, photos deleted since)
        copies the index into memory (`_own`). A reader whose saved index is unusable
        (being rebuilt, damaged) searches an in-memory index built from the catalog
        instead. Photos deleted after the last save (a writer killed before saving again)
        are dropped, so they take no result's place.
        """
        for _attempt in range(3):
            with catalog.db.atomic():  # one snapshot of the catalog, whatever the writer does
                state = read_state(catalog)
                _problem, loaded = _load(folder, state, model, dim, view=True)
                if loaded is None:
                    continue
                vi = cls(folder, model, dim, loaded, state.seq, mapped=True)
                vi.drop_stale(catalog, state)
                vi.catch_up(catalog)
                if len(vi) == catalog.count_photos(model):
                    return vi
                # a file that passed its checksum yet lacks photos: trust the catalog
        vi = cls(folder, model, dim, new_usearch(dim), 0)
        vi.catch_up(catalog)
        return vi

    @classmethod
    def rebuild(cls, folder: Path, catalog: Catalog, model: str, dim: int) -> VectorIndex:
        vi = cls(folder, model, dim, new_usearch(dim), 0)
        vi.catch_up(catalog)
        vi.save(catalog)
        vi.remove_other_files(keep=None, catalog=catalog)
        return vi

    # --- changing ----------------------------------------------------------------

    def catch_up(self, catalog: Catalog) -> int:
        """Add the catalog's vectors changed since `self.seq`. Returns how many."""
        target = catalog.max_seq(self.model)
        if target <= self.seq:
            return 0
        n = 0
        for ids, vectors in catalog.iter_vectors(self.model, after_seq=self.seq):
            self.upsert(ids, vectors)
            n += len(ids)
        self.seq = target
        return n

    def drop_stale(self, catalog: Catalog, saved: IndexState | None = None) -> int:
        """Remove ids the catalog no longer has for this model (deleted since the index was
        saved). Returns how many. With `saved`, the state this index was just loaded as,
        one count says when nothing can be stale (every photo of the save still has its
        row and seq: ids are never reused), sparing the comparison of every id."""
        if not len(self.index):
            return 0
        if saved is not None and len(self.index) == saved.count \
                and catalog.count_saved(self.model, saved.seq) == saved.count:
            return 0
        keys = np.asarray(self.index.keys, dtype=np.uint64)
        stale = np.setdiff1d(keys, catalog.ids_for_model(self.model))
        self.remove(stale)
        return len(stale)

    def _own(self) -> None:
        """Before any change: a mapped file is read-only (usearch crashes on a change), so
        work on an in-memory copy from here on (~0.6 s at a million photos)."""
        if self.mapped:
            self.index = self.index.copy()
            self.index.expansion_search = breadth(len(self.index))
            self.mapped = False

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._own()
        ids = np.asarray(ids, dtype=np.uint64)
        present = np.atleast_1d(self.index.contains(ids)) if len(self.index) else None
        if present is not None and present.any():
            self.index.remove(ids[present])
        self.index.add(ids, np.asarray(vectors, dtype=np.float32))
        self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids):
            self._own()
            self.index.remove(ids)
            self.dirty = True

    def search(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities), best first."""
        if len(self.index) == 0:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
        size = len(self.index)
        if size > EXACT_UP_TO and self.index.expansion_search != breadth(size):
            self.index.expansion_search = breadth(size)
        matches = self.index.search(np.asarray(vector, dtype=np.float32), count=count,
                                    exact=size <= EXACT_UP_TO)
        return np.asarray(matches.keys), 1.0 - np.asarray(matches.distances)

    # --- saving ------------------------------------------------------------------

    def save(self, catalog: Catalog) -> None:
        """Write the index atomically, then record it in the catalog."""
        data = bytes(self.index.save())
        name = f"vectors-{self.seq}-{os.getpid()}.usearch"
        again = 1
        while (self.folder / name).exists():  # a save with no new rows (photos removed):
            # never replace a saved file, which readers may have mapped (on Windows, a
            # mapped file cannot be replaced at all)
            name = f"vectors-{self.seq}-{os.getpid()}-{again}.usearch"
            again += 1
        target = self.folder / name
        tmp = self.folder / (name + ".tmp")
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:  # e.g. the disk is full: leave no half file taking space
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, target)
        _fsync_dir(self.folder)
        state = IndexState(name, self.model, self.dim, len(self.index), self.seq, checksum(data),
                           identity(target))
        with catalog.db.atomic():
            catalog.set_meta(STATE_KEY, json.dumps(asdict(state)))
        self.dirty = False
        self.remove_other_files(keep=name, catalog=catalog)

    def remove_other_files(self, keep: str | None, catalog: Catalog) -> None:
        """Delete index files that the catalog no longer names (older saves, crash leftovers)."""
        if keep is None:
            state = read_state(catalog)
            keep = state.file if state else None
        for entry in self.folder.glob("vectors-*.usearch*"):
            if entry.name != keep:
                try:
                    entry.unlink()
                except OSError:
                    pass  # e.g. open by a reader on Windows; removed on a later save


def _load(folder: Path, state: IndexState | None, model: str, dim: int, view: bool = False
          ) -> tuple[str, Index | None]:
    """The saved index, checked against its state; `view`: mapped, not read into memory,
    and its checksum trusted when the file is still the one the writer saved."""
    if state is None:
        return "no saved index", None
    if state.model != model:
        return f"it was made for another model ({state.model})", None
    if state.dim != dim:
        return f"it has {state.dim} dimensions, the model makes {dim}", None
    path = folder / state.file
    try:  # streamed, then loaded by usearch from the file: no second copy in memory
        trusted = view and state.stat is not None and identity(path) == state.stat
        if not trusted and file_checksum(path) != state.checksum:
            return "its file is damaged (checksum mismatch)", None
    except OSError as exc:
        return f"its file could not be read ({exc.strerror or exc})", None
    try:  # saved files are never changed in place, only replaced under new names
        index = Index.restore(str(path), view=view)
    except Exception as exc:  # usearch raises plain RuntimeError/ValueError on bad data
        return f"its file could not be loaded ({exc})", None
    if index is None or index.ndim != dim or len(index) != state.count:
        return "its file does not match its recorded size", None
    return "", index


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
