"""Finding duplicate groups in the whole library in one pass, in bounded memory.

- *exact*: photos with the same content hash (the catalog's `photos_hash` index).
- *near*: one batched k-nearest-neighbour pass over the vector index (each distinct
  photo asks for its `neighbours` nearest, a batch of queries per usearch call), then
  every candidate pair verified on its pixel fingerprints (fingerprint.py). Pairs that
  pass are joined into groups, strongest first, except that a group never holds two
  different EXIF dates taken: a re-encode or a crop keeps its original's date or loses
  it, while two shots a few seconds apart each have their own.
- *burst*: photos taken within `BURST_SECONDS` of each other (both with EXIF dates)
  whose pixels are close (`BURST_MEAN_MAX`), reported apart from duplicates.

Memory: the pass holds one batch of queries and their candidate pairs at a time, the
verified pairs, and the ids of exact copies; never a matrix of all pairs. The catalog is
only read; fingerprints missing from older catalogs are asked of `fingerprints_for`
(see `FingerprintSource`) for the candidate photos only.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from photofind.core.duplicates import fingerprint as fp
from photofind.core.duplicates.groups import Group, Member

NEIGHBOURS = 5  # nearest distinct photos each photo is compared with
MIN_COSINE = 0.80  # vector similarity below which a pair is not even looked at
BATCH = 2048  # queries per usearch call
EXACT_SEARCH_UP_TO = 5_000  # below: usearch compares every pair exactly (cheap, certain)
SEARCH_BREADTH = 16  # usearch expansion_search for the pass (k is small; copies are close)
BURST_SECONDS = 10
BURST_MEAN_MAX = 24.0
# the plain (unzoomed) mean difference above which no zoom makes two photos one picture
# or a burst: 3% crops measured ≤ 5.6 plain, bursts ≤ 18 (bench/duplicates.py)
PLAIN_MEAN_MAX = 4 * fp.MEAN_MAX

Progress = Callable[[int, int], None]  # (photos compared, photos to compare)
FingerprintSource = Callable[[list[int]], dict[int, bytes | None]]


@dataclass
class Found:
    groups: list[Group]
    seconds: float
    photos: int  # photos of the model looked at
    compared: int = 0  # candidate pairs whose pixels were compared
    missing: int = 0  # candidate pairs left out: a photo without a usable fingerprint

    def to_json(self) -> dict:
        return {"groups": [g.to_json() for g in self.groups], "seconds": round(self.seconds, 3)}


class Finder:
    def __init__(self, conn, index, model: str, fingerprints_for: FingerprintSource | None = None,
                 neighbours: int = NEIGHBOURS, min_cosine: float = MIN_COSINE) -> None:
        """`conn`: a read connection to the catalog; `index`: the usearch `Index` of the
        model's vectors (or None: exact groups only)."""
        self.conn = conn
        self.index = index
        self.model = model
        self.fingerprints_for = fingerprints_for or self._stored_fingerprints
        self.neighbours = neighbours
        self.min_cosine = min_cosine
        self._cells: dict[int, np.ndarray] = {}

    # --- the pass ----------------------------------------------------------------

    def find(self, kinds: tuple[str, ...] = ("exact", "near"), within: str | None = None,
             progress: Progress | None = None) -> Found:
        start = time.perf_counter()
        total = self.conn.execute(
            "SELECT COUNT(*) FROM photos WHERE model = ?", (self.model,)).fetchone()[0]
        copies = self._exact()  # hash → ids (2 or more)
        rep_of = {i: min(ids) for ids in copies.values() for i in ids}
        found = Found([], 0.0, total)
        near_edges: list[tuple[float, int, int]] = []
        burst_edges: list[tuple[float, int, int]] = []
        if ("near" in kinds or "burst" in kinds) and self.index is not None and total > 1:
            for pairs, cosines in self._candidates(rep_of, total, progress):
                self._verify(pairs, cosines, found, near_edges, burst_edges)
        taken = self._taken({i for _, a, b in near_edges + burst_edges for i in (a, b)})
        groups: list[Group] = []
        near_of: dict[int, int] = {}
        if "near" in kinds or "exact" in kinds:
            near_sets = _join(near_edges, taken) if "near" in kinds else []
            for members in near_sets:
                ids = [i for rep in members for i in copies.get(self._hash(rep), [rep])]
                for i in ids:
                    near_of[i] = members[0]
                groups.append(self._group("near", ids))
        if "exact" in kinds:
            for ids in copies.values():
                if ids[0] not in near_of:
                    groups.append(self._group("exact", ids))
        if "burst" in kinds:
            for members in _join(burst_edges, taken, bursts=True):
                groups.append(self._group("burst", members))
        if within is not None:
            groups = [g for g in groups if any(_is_within(m.path, within) for m in g.photos)]
        groups.sort(key=lambda g: (("exact", "near", "burst").index(g.kind), g.keep))
        found.groups = groups
        found.seconds = time.perf_counter() - start
        return found

    def _exact(self) -> dict[str, list[int]]:
        rows = self.conn.execute(
            "SELECT hash, id FROM photos WHERE model = ? AND hash IN (SELECT hash FROM photos"
            " WHERE model = ? GROUP BY hash HAVING COUNT(*) > 1) ORDER BY hash, id",
            (self.model, self.model))
        groups: dict[str, list[int]] = {}
        for h, i in rows:
            groups.setdefault(h, []).append(i)
        self._hash_of = {i: h for h, ids in groups.items() for i in ids}
        return groups

    def _hash(self, photo_id: int) -> str | None:
        return self._hash_of.get(photo_id)

    def _candidates(self, rep_of: dict[int, int], total: int, progress: Progress | None):
        """Per batch of distinct photos: (pairs (m, 2) of ids a < b, their cosines)."""
        extra = min(max(Counter(rep_of.values()).values(), default=1) - 1, 64)
        copy_ids = np.array(sorted(rep_of), np.int64)
        copy_reps = np.array([rep_of[i] for i in copy_ids.tolist()], np.int64)
        count = min(self.neighbours + 1 + extra, len(self.index))
        exact = len(self.index) <= EXACT_SEARCH_UP_TO
        if not exact:
            self.index.expansion_search = max(SEARCH_BREADTH, count)
        done = 0
        cursor = self.conn.execute(
            "SELECT id, vector FROM photos WHERE model = ? AND vector IS NOT NULL", (self.model,))
        while rows := cursor.fetchmany(BATCH):
            done += len(rows)
            rows = [r for r in rows if rep_of.get(r[0], r[0]) == r[0]]
            if rows:
                ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                dim = len(rows[0][1]) // 2
                vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float16)
                matches = self.index.search(vectors.reshape(len(rows), dim).astype(np.float32),
                                            count=count, exact=exact)
                keys = np.asarray(matches.keys, np.int64).reshape(len(rows), -1)
                cos = 1.0 - np.asarray(matches.distances, np.float32).reshape(len(rows), -1)
                valid = np.arange(keys.shape[1])[None, :] < np.asarray(matches.counts)[:, None]
                if len(copy_ids):  # a copy stands for its group's first photo
                    at = np.minimum(np.searchsorted(copy_ids, keys), len(copy_ids) - 1)
                    keys = np.where(copy_ids[at] == keys, copy_reps[at], keys)
                a = np.broadcast_to(ids[:, None], keys.shape)
                keep = valid & (keys != a) & (cos >= self.min_cosine)
                lo, hi = np.minimum(a, keys)[keep], np.maximum(a, keys)[keep]
                pairs = np.unique(np.stack([lo, hi], axis=1), axis=0, return_index=True)
                yield pairs[0], cos[keep][pairs[1]]
            if progress is not None:
                progress(done, total)

    def _verify(self, pairs: np.ndarray, cosines: np.ndarray, found: Found,
                near: list, bursts: list) -> None:
        """Compare the pixels of a batch's candidate pairs: a plain look first (no zoom,
        one vectorised pass), the zooms only for the pairs that might be one picture."""
        if not len(pairs):
            return
        uniq = np.unique(pairs)
        blobs: dict[int, bytes | None] = {}
        ids = uniq.tolist()
        for start in range(0, len(ids), 500):
            blobs.update(self.fingerprints_for(ids[start:start + 500]))
        usable = np.array([fp.valid(blobs.get(i)) for i in ids], bool)
        at = np.searchsorted(uniq, pairs)
        ok = usable[at].all(axis=1)
        found.missing += int((~ok).sum())
        pairs, at = pairs[ok], at[ok]
        if not len(pairs):
            return
        cells = np.zeros((len(ids), fp.SIDE, fp.SIDE, 3), np.uint8)
        good = np.flatnonzero(usable)
        if len(good):
            raw = b"".join(blobs[ids[k]][1:] for k in good.tolist())
            cells[good] = np.frombuffer(raw, np.uint8).reshape(len(good), fp.SIDE, fp.SIDE, 3)
        coarse = fp.coarse(cells)  # a lower bound of the plain mean, 9× cheaper
        maybe = fp.plain_mean(coarse[at[:, 0]], coarse[at[:, 1]]) <= PLAIN_MEAN_MAX
        pairs, at = pairs[maybe], at[maybe]
        maybe = fp.plain_mean(cells[at[:, 0]], cells[at[:, 1]]) <= PLAIN_MEAN_MAX
        pairs, at = pairs[maybe], at[maybe]
        found.compared += int(ok.sum())
        if not len(pairs):
            return
        a = cells[at[:, 0]].astype(np.float32)
        b = cells[at[:, 1]].astype(np.float32)
        mean, top = fp.differences(a, b)
        same = fp.same_picture(mean, top)
        for (x, y), m, s, ka, kb in zip(pairs.tolist(), mean.tolist(), same.tolist(),
                                        at[:, 0].tolist(), at[:, 1].tolist(), strict=True):
            if s or m <= BURST_MEAN_MAX:
                self._cells.setdefault(x, cells[ka].astype(np.float32))
                self._cells.setdefault(y, cells[kb].astype(np.float32))
            if s:
                near.append((m, x, y))
            if m <= BURST_MEAN_MAX:
                bursts.append((m, x, y))

    # --- catalog reads -----------------------------------------------------------

    def _stored_fingerprints(self, ids: list[int]) -> dict[int, bytes | None]:
        marks = ",".join("?" * len(ids))
        return dict(self.conn.execute(
            f"SELECT id, fingerprint FROM photos WHERE id IN ({marks})", ids))

    def _taken(self, ids: set[int]) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        ids_list = sorted(ids)
        for start in range(0, len(ids_list), 500):
            chunk = ids_list[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self.conn.execute(
                f"SELECT id, taken FROM photos WHERE id IN ({marks})", chunk))
        return out

    def _group(self, kind: str, ids: list[int]) -> Group:
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT id, path, size, width, height, format, taken, date, mtime_ns, hash"
            f" FROM photos WHERE id IN ({marks})", ids).fetchall()
        members = [Member(*r) for r in rows]
        group = Group(kind, members)
        keeper = group.photos[0]
        if kind != "exact" and keeper.id in self._cells:
            others = [m for m in group.photos
                      if m.hash != keeper.hash and m.id in self._cells]
            sims: dict[int, float] = {m.id: 1.0 for m in group.photos if m.hash == keeper.hash}
            if others:  # one vectorised comparison with the keeper for the whole group
                a = np.repeat(self._cells[keeper.id][None], len(others), axis=0)
                mean, _ = fp.differences(a, np.stack([self._cells[m.id] for m in others]))
                sims.update({m.id: float(fp.similarity(x))
                             for m, x in zip(others, mean.tolist(), strict=True)})
            group.photos = [_with(m, sims.get(m.id)) for m in group.photos]
        return group


def _with(m: Member, similarity: float | None) -> Member:
    return m if similarity is None else replace(m, similarity=similarity)


def _seconds(taken: str | None) -> float | None:
    if not taken:
        return None
    try:
        return datetime.fromisoformat(taken[:19]).timestamp()
    except ValueError:
        return None


def _join(edges: list[tuple[float, int, int]], taken: dict[int, str | None],
          bursts: bool = False) -> list[list[int]]:
    """Groups from pairs, closest first. Duplicates: a group holds at most one EXIF
    date taken. Bursts: only pairs whose dates differ, by at most BURST_SECONDS."""
    parent: dict[int, int] = {}
    date: dict[int, str | None] = {}

    def root(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _mean, a, b in sorted(edges):
        ta, tb = taken.get(a), taken.get(b)
        if bursts:
            sa, sb = _seconds(ta), _seconds(tb)
            if sa is None or sb is None or sa == sb or abs(sa - sb) > BURST_SECONDS:
                continue
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[rb] = ra
            continue
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        da = date.get(ra, (ta or "")[:19] or None)
        db = date.get(rb, (tb or "")[:19] or None)
        if da is not None and db is not None and da != db:
            continue  # two different moments: not one picture
        parent[rb] = ra
        date[ra] = da or db
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def _is_within(path: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep)
    return path == folder or path.startswith(folder + os.sep)
