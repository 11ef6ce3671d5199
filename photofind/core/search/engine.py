"""Running a `Query` against a library: filters in SQL, the vector search, good matches,
the order asked for. The CLI, the GUI's search worker and the tests all come here.

Filtered vector search: usearch's HNSW graph cannot skip photos a filter rules out, so a
filter that keeps at most `EXACT_FILTERED` photos is answered by an exact scan of just
their vectors (read from the catalog in one query); a wider filter searches the graph for
more neighbours than asked (in proportion to what the filter keeps) and keeps those
that pass. Either way a filter that keeps 0.1% of the library finds all 10 of its best
photos, not the 3 that happened to be among the graph's nearest.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photofind.core.duplicates.stacking import stack_hits
from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.media.decode import open_image
from photofind.core.search import filters, relevance
from photofind.core.search.query import Query, QueryError
from photofind.core.store.catalog import PHOTO_COLUMNS, Photo

# Filters keeping at most this many photos: an exact scan of their float16 vectors (usearch's
# SIMD scan: ~15 ms for 100,000 × 512 on a busy core). Wider ones: the graph, whose recall
# deep in its list stays below 0.99 at 1M photos whatever its breadth (0.974 with 4096,
# 0.987 with 32768, for a filter keeping 10%: docs/decisions.md).
EXACT_FILTERED = 150_000
FILTER_CACHE_BYTES = 320_000_000  # the filters' vectors kept between queries, at most
MAX_LIMIT = 100_000  # results one query returns at most


@dataclass
class Hit:
    photo: Photo
    score: float | None  # cosine similarity; None when browsing
    good: bool
    online: bool = True
    copies: list[Photo] = field(default_factory=list)  # stacked under it (core/duplicates)

    def to_json(self) -> dict:
        p = self.photo
        taken = p.taken if p.taken_from == "exif" else p.date
        document = {
            "path": p.path, "score": None if self.score is None else round(self.score, 4),
            "good": self.good, "kind": "photo", "taken": taken, "taken_from": p.taken_from,
            "width": p.width, "height": p.height, "type": type_name(p.format),
            "online": self.online, "size": p.size, "format": p.format,
        }
        if self.copies:
            document["copies"] = [c.path for c in self.copies]
        return document


@dataclass
class Answer:
    query: Query
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)

    @property
    def good_count(self) -> int:
        return sum(1 for h in self.hits if h.good)

    @property
    def no_good_match(self) -> bool:
        return not self.query.browses and self.good_count == 0


def type_name(fmt: str | None) -> str | None:
    names = {"JPEG": "jpeg", "MPO": "jpeg", "HEIF": "heic"}
    return names.get(fmt, fmt.lower()) if fmt else None


class Engine:
    """Runs queries for one `Searcher` (see searcher.py), keeping what is costly to
    compute once: the background phrases' vectors, the library sample, folder names."""

    def __init__(self, searcher, stack: bool = True) -> None:
        self.searcher = searcher
        self.stack = stack  # copies of one picture shown as one result (core/duplicates)
        self._background: relevance.Background | None = None
        self._sample: np.ndarray | None = None
        self._sample_size = -1
        self._filter_cache: dict = {}

    # --- the pieces ---------------------------------------------------------------

    @property
    def catalog(self):
        return self.searcher.catalog

    @property
    def vectors(self):
        return self.searcher.vectors

    def background(self) -> relevance.Background:
        if self._background is None:
            self._background = load_background(self.searcher)
        return self._background

    def sample(self) -> np.ndarray:
        size = len(self.vectors)
        if self._sample is None or self._sample_size != size:
            keys = np.asarray(self.vectors.index.keys, dtype=np.uint64) if size else \
                np.empty(0, dtype=np.uint64)
            chosen = relevance.library_sample(keys)
            self._sample = self.vectors_of(chosen)
            self._sample_size = size
        return self._sample

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids` (rows of zeros for ids the index lacks)."""
        if len(ids) == 0:
            return np.zeros((0, self.vectors.dim), dtype=np.float32)
        got = self.vectors.index.get(np.asarray(ids, dtype=np.uint64), dtype=np.float32)
        if isinstance(got, tuple):  # usearch answers per key when some are missing
            got = np.stack([g if g is not None else np.zeros(self.vectors.dim, np.float32)
                            for g in got])
        return np.nan_to_num(np.asarray(got, dtype=np.float32).reshape(len(ids), -1))

    # --- running a query ------------------------------------------------------------

    def run(self, query: Query) -> Answer:
        s = self.searcher
        s.refresh()
        limit = max(1, min(query.limit, MAX_LIMIT, max(len(self.vectors), 1)))
        prefixes = filters.folder_prefixes(self.catalog, query.folders) if query.folders else []
        where = filters.where(query, prefixes)
        if query.browses:
            return Answer(query, self._browse(query, where, limit))
        vector, positive, negatives, image, exclude = self._compose(query)
        ids, scores = self._nearest(vector, where, limit + len(exclude))
        keep = [i for i, k in enumerate(ids) if int(k) not in exclude][:limit]
        ids, scores = ids[keep], scores[keep]
        photos = self.catalog.photos(int(i) for i in ids)
        hits = []
        found = [i for i, k in enumerate(ids) if int(k) in photos]
        ids, scores = ids[found], scores[found]
        mine = self.vectors_of(ids)
        if image and positive is None:
            good = relevance.image_good(vector, mine, self.sample())
        else:
            good = relevance.text_good(positive, mine, self.background())
        for neg in negatives:
            good &= ~relevance.text_good(neg, mine, self.background())
        online = _online_roots({photos[int(k)].root for k in ids})
        for k, score, g in zip(ids, scores, good, strict=True):
            photo = photos[int(k)]
            hits.append(Hit(photo, float(score), bool(g), online[photo.root]))
        if query.good_only:
            hits = [h for h in hits if h.good]
        hits = _order(hits, query.effective_sort)
        if self.stack:
            hits = stack_hits(self.catalog.conn, hits,
                              {int(k): v for k, v in zip(ids, mine, strict=True)})
        return Answer(query, hits)

    def _compose(self, query: Query):
        """(query vector, its positive text part, negative term vectors, has images, ids
        of example photos from the library, left out of the results)."""
        s = self.searcher
        parts: list[np.ndarray] = []
        positive_parts: list[np.ndarray] = []
        negatives: list[np.ndarray] = []
        if query.text:
            v = s.embed_text(query.text)
            parts.append(v)
            positive_parts.append(v)
        for term in query.terms:
            v = s.embed_text(term.text)
            parts.append(term.weight * v)
            if term.weight > 0:
                positive_parts.append(term.weight * v)
            else:
                negatives.append(v)
        exclude: set[int] = set()
        if query.examples:
            images = []
            for path in query.examples:
                vec, own_id = self.image_vector(path)
                images.append(vec)
                if own_id is not None:
                    exclude.add(own_id)
            mean = np.mean(images, axis=0)
            parts.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        total = np.sum(parts, axis=0)
        norm = float(np.linalg.norm(total))
        if norm < 1e-6:
            raise QueryError("the terms of this query cancel out; remove a '-' term")
        positive = None
        if positive_parts:
            p = np.sum(positive_parts, axis=0)
            positive = p / max(float(np.linalg.norm(p)), 1e-12)
            if query.examples:  # an image query with words: judge it as an image query
                positive = None
        return total / norm, positive, negatives, bool(query.examples), exclude

    def image_vector(self, path: str) -> tuple[np.ndarray, int | None]:
        """An example photo's vector: the stored one (and its id) for a photo in the
        library, else the image tower's."""
        full = os.path.realpath(os.path.expanduser(path))
        photo = self.catalog.photo_by_path(full)
        if photo is not None and photo.model == self.searcher.model:
            stored = self.vectors_of(np.array([photo.id], dtype=np.uint64))[0]
            if float(np.linalg.norm(stored)) > 0.5:
                return stored / float(np.linalg.norm(stored)), photo.id
        if not Path(full).exists():
            raise PhotofindError(f"like:{path}: no such file")
        embedder = self.searcher.embedder
        try:
            decoded, _hash, _size = open_image(full, embedder.image_size)
        except NotAnImage as exc:
            raise PhotofindError(f"cannot search with {path}: {exc}") from None
        vec = embedder.embed_images([embedder.preprocess(decoded.image)])[0]
        return vec / max(float(np.linalg.norm(vec)), 1e-12), None

    def _nearest(self, vector: np.ndarray, where: filters.Where, want: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        s = self.searcher
        if where.empty:
            results = s.search_vector(vector, want)
            return (np.array([r.id for r in results], dtype=np.uint64),
                    np.array([r.score for r in results], dtype=np.float32))
        base = f"FROM photos WHERE model = ? AND {where.sql}"
        params = (s.model, *where.params)
        count, ids, stored = self._filtered(base, params)
        if count == 0:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
        if count >= len(self.vectors):  # the filter keeps every photo: no filter at all
            return self._nearest(vector, filters.Where("", ()), want)
        if ids is not None:
            if len(ids) == 0:
                return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
            top = min(want, len(ids))
            # usearch only here, after the store has imported onnxruntime before it (their
            # C++ runtimes clash the other way round: store/vectorindex.py)
            from usearch.index import MetricKind
            from usearch.index import search as brute_force

            found = brute_force(stored, np.asarray(vector, dtype=np.float16), top,
                                MetricKind.IP, exact=True)
            rows = np.asarray(found.keys, dtype=np.int64)
            return ids[rows], (1.0 - np.asarray(found.distances)).astype(np.float32)
        total = max(len(self.vectors), 1)
        # 4× what the filter's share predicts (+64): with 2× (+16), a filter keeping 10% of
        # 1M photos found 0.966 of its exact top 10 (the graph is weaker deep in its list)
        ask = min(total, int(math.ceil(want * total / count * 4)) + 64)
        while True:
            ids, scores = self.vectors.search(vector, ask)
            passed = _passing(self.catalog, base, params, ids)
            keep = [i for i, k in enumerate(ids) if int(k) in passed]
            if len(keep) >= want or ask >= total:
                keep = keep[:want]
                return ids[keep], scores[keep]
            ask = min(total, ask * 4)

    def _filtered(self, base: str, params: tuple):
        """(count, ids, their vectors) of what a filter keeps — ids and vectors only when
        it keeps at most `EXACT_FILTERED` photos. The last few filters are remembered
        until the library changes: typing new words under the same filter reuses them."""
        version = self.catalog.conn.execute("PRAGMA data_version").fetchone()[0]
        key = (base, params, version, len(self.vectors))  # data_version: another commit
        if key in self._filter_cache:
            return self._filter_cache[key]
        count = self.catalog.conn.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
        ids = stored = None
        if 0 < count <= EXACT_FILTERED:  # their vectors, from the catalog in one pass
            rows = self.catalog.conn.execute(
                f"SELECT id, vector {base} AND vector IS NOT NULL", params).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
            dim = self.vectors.dim
            stored = np.frombuffer(b"".join(r[1] for r in rows if len(r[1]) == 2 * dim),
                                   dtype=np.float16).reshape(-1, dim)
            if len(stored) != len(ids):  # a row of another size: never mix dimensions
                good = [i for i, r in enumerate(rows) if len(r[1]) == 2 * dim]
                ids = ids[good]
        size = 0 if stored is None else stored.nbytes
        while self._filter_cache and (len(self._filter_cache) >= 4 or size + sum(
                0 if v[2] is None else v[2].nbytes for v in self._filter_cache.values())
                > FILTER_CACHE_BYTES):
            self._filter_cache.pop(next(iter(self._filter_cache)))
        self._filter_cache[key] = (count, ids, stored)
        return count, ids, stored

    def _browse(self, query: Query, where: filters.Where, limit: int) -> list[Hit]:
        order = "ASC" if query.effective_sort == "oldest" else "DESC"
        sql = (f"SELECT {PHOTO_COLUMNS} FROM photos WHERE model = ?"
               + (f" AND {where.sql}" if not where.empty else "")
               + f" ORDER BY date {order}, id {order} LIMIT ? OFFSET ?")
        rows = self.catalog.conn.execute(
            sql, (self.searcher.model, *where.params, limit, max(0, query.offset))).fetchall()
        photos = [Photo(*row) for row in rows]
        online = _online_roots({p.root for p in photos})
        return [Hit(p, None, True, online[p.root]) for p in photos]


def _passing(catalog, base: str, params: tuple, ids: np.ndarray) -> set[int]:
    """Which of the graph's `ids` the filter keeps: looked up by id (NOT INDEXED: with a
    date filter SQLite walked the (model, date) index over every photo the filter keeps,
    220 ms a query at 1M for a filter keeping all; by rowid it is ~1 ms)."""
    base = base.replace("FROM photos ", "FROM photos NOT INDEXED ", 1)
    passed: set[int] = set()
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        passed.update(r[0] for r in catalog.conn.execute(
            f"SELECT id {base} AND id IN ({','.join('?' * len(chunk))})", (*params, *chunk)))
    return passed


def _order(hits: list[Hit], sort: str) -> list[Hit]:
    """Good matches first, then the weaker ones (by score); `newest`/`oldest` order the
    good matches by date."""
    good = [h for h in hits if h.good]
    weak = [h for h in hits if not h.good]
    if sort in ("newest", "oldest"):
        good.sort(key=lambda h: (h.photo.date or "", h.photo.id), reverse=sort == "newest")
    else:
        good.sort(key=lambda h: -(h.score or 0.0))
    weak.sort(key=lambda h: -(h.score or 0.0))
    return good + weak


def _online_roots(roots: set[str]) -> dict[str, bool]:
    return {root: os.path.isdir(root) for root in roots}


def embed_texts(searcher, phrases: Sequence[str]) -> np.ndarray:
    text = getattr(searcher, "_text", None)
    if text is not None:
        out = [text.session.run(text.tokenizer(list(phrases[i:i + 64])))
               for i in range(0, len(phrases), 64)]
        return np.concatenate(out) if out else np.zeros((0, text.dim), np.float32)
    return np.stack([searcher.embedder.embed_text(p) for p in phrases])


def background_folder(data_dir, model_id: str) -> Path:
    from photofind.core.model import onnxrt

    return onnxrt.folder(data_dir.models, model_id)


def load_background(searcher) -> relevance.Background:
    """The cached background vectors (made by the writer), else made here in memory."""
    phrases = relevance.phrase_list(searcher.spec.local_dir)
    folder = background_folder(searcher.data_dir, searcher.model)
    cached = relevance.Background.load(folder, phrases)
    if cached is not None and cached.vectors.shape[1] == searcher.vectors.dim:
        return cached
    return relevance.Background.embed(phrases, lambda p: embed_texts(searcher, p))


def prepare_background(data_dir, spec, embedder=None) -> None:
    """The writer's part: embed the background phrases once per model and cache them
    next to the exported model, so a cold search need not. Uses the exported text tower
    (no torch) where there is one, else `embedder`; a failure only costs the cache."""
    import logging

    from photofind.core.model.textencoder import TextEncoder

    phrases = relevance.phrase_list(spec.local_dir)
    model_id = spec.model_id()
    folder = background_folder(data_dir, model_id)
    if relevance.Background.load(folder, phrases) is not None:
        return
    try:
        text = TextEncoder.cached(data_dir.models, model_id)
        if text is not None:
            def embed(batch):
                return np.concatenate([text.session.run(text.tokenizer(batch[i:i + 64]))
                                       for i in range(0, len(batch), 64)])
        elif embedder is not None:
            def embed(batch):
                return np.stack([embedder.embed_text(x) for x in batch])
        else:
            return
        relevance.Background.embed(phrases, embed).save(folder)
    except Exception as exc:  # searches then embed the phrases themselves
        logging.getLogger(__name__).warning("could not cache the background phrases: %s", exc)
