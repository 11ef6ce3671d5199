"""Stacking copies in a result list: one entry per picture, its copies folded into it.

Results come best first. A result is folded into an earlier one when both are the same
picture: the same content hash, or vectors at least `MIN_COSINE` alike (else, without
vectors, scores against the query within `SCORE_GAP`) and fingerprints that pass the
same test as the duplicates pass (fingerprint.py), with no two camera dates in a stack.
Only the result list itself is looked at — a copy of a result is as near the query as
the result — so stacking costs one catalog read of the results' rows and a comparison
of a few dozen fingerprints, whatever the library's size (bench/duplicates.py).
"""

from __future__ import annotations

import numpy as np

from photofind.core.duplicates import fingerprint as fp
from photofind.core.duplicates.finder import MIN_COSINE, PLAIN_MEAN_MAX

SCORE_GAP = 0.08  # two copies of one picture score within this of each other


def stack(conn, ids: list[int], scores: list[float] | None = None,
          vectors: np.ndarray | None = None) -> list[list[int]]:
    """`ids` (best first) as stacks: each a list whose first id is the one shown and the
    rest its copies, in the order of `ids`. Ids without a catalog row stand alone."""
    if len(ids) < 2:
        return [[i] for i in ids]
    rows = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for i, h, blob, taken in conn.execute(
                f"SELECT id, hash, fingerprint, taken FROM photos WHERE id IN ({marks})", chunk):
            rows[i] = (h, blob if fp.valid(blob) else None, taken)
    lead = list(range(len(ids)))  # index of the result each one is folded into

    def top(k: int) -> int:
        while lead[k] != k:
            k = lead[k]
        return k

    by_hash: dict[str, int] = {}
    for k, i in enumerate(ids):
        row = rows.get(i)
        if row is None:
            continue
        first = by_hash.setdefault(row[0], k)
        if first != k:
            lead[k] = first
    near = _near_pairs(ids, rows, scores, vectors, lead)
    for a, b in near:  # a < b: b joins a's stack unless their camera dates differ
        ra, rb = top(a), top(b)
        if ra == rb:
            continue
        ta, tb = rows[ids[ra]][2], rows[ids[rb]][2]
        if ta and tb and ta[:19] != tb[:19]:
            continue
        lead[max(ra, rb)] = min(ra, rb)
    stacks: dict[int, list[int]] = {}
    for k, i in enumerate(ids):
        stacks.setdefault(top(k), []).append(i)
    return [stacks[k] for k in sorted(stacks)]


def _near_pairs(ids, rows, scores, vectors, lead) -> list[tuple[int, int]]:
    have = [k for k, i in enumerate(ids)
            if lead[k] == k and rows.get(i) is not None and rows[i][1] is not None]
    if len(have) < 2:
        return []
    if vectors is not None:
        v = np.asarray(vectors, np.float32)[have]
        # einsum, not BLAS: a few dozen rows, and BLAS's thread pool waking up costs
        # 10-30 ms on a busy machine (measured here) where einsum takes 0.4 ms
        a_idx, b_idx = np.nonzero(np.triu(np.einsum("ij,kj->ik", v, v) >= MIN_COSINE, 1))
    else:
        a_idx, b_idx = np.triu_indices(len(have), k=1)
    if vectors is None and scores is not None:
        s = np.asarray([scores[k] for k in have], np.float32)
        close = np.abs(s[a_idx] - s[b_idx]) <= SCORE_GAP
        a_idx, b_idx = a_idx[close], b_idx[close]
    if not len(a_idx):
        return []
    cells = fp.cells([rows[ids[k]][1] for k in have])
    # cheap first looks without zooms (as the duplicates pass): far apart pairs are
    # dropped before the full test
    coarse = fp.coarse(cells)
    for small in (coarse, cells):
        maybe = fp.plain_mean(small[a_idx], small[b_idx]) <= PLAIN_MEAN_MAX
        a_idx, b_idx = a_idx[maybe], b_idx[maybe]
    if not len(a_idx):
        return []
    mean, worst = fp.differences(cells[a_idx], cells[b_idx])
    same = fp.same_picture(mean, worst)
    order = np.argsort(mean[same], kind="stable")
    return [(have[a], have[b]) for a, b in zip(a_idx[same][order].tolist(),
                                                b_idx[same][order].tolist(), strict=True)]


def stack_hits(conn, hits: list, vectors: dict[int, np.ndarray] | None = None) -> list:
    """Search hits (objects with `.photo.id`, `.score` and a `.copies` list), best first,
    with each copy moved into the `.copies` of the first hit of its stack."""
    if len(hits) < 2:
        return hits
    ids = [h.photo.id for h in hits]
    scores = [h.score if h.score is not None else 0.0 for h in hits]
    matrix = None
    if vectors is not None and all(i in vectors for i in ids):
        matrix = np.stack([vectors[i] for i in ids])
    by_id = {h.photo.id: h for h in hits}
    out = []
    for group in stack(conn, ids, scores, matrix):
        lead = by_id[group[0]]
        lead.copies = [by_id[i].photo for i in group[1:]]
        out.append(lead)
    return out
