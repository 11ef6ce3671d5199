"""The duplicates pass over a data directory, as `photofind duplicates` and the GUI's
review view run it: read-only on the catalog and the saved vector index.

Fingerprints are made by the indexer from the decode it already does. A catalog indexed
before they existed has none for its older photos: each pass makes the ones it needs
(photos in a candidate pair: vectors at least `finder.MIN_COSINE` alike), each file read
once by a decoder process, and checks the file still has the content the catalog knows.
The pass never writes (only the indexer's write path does, core/ingest), so these are
made again by the next pass; a photo that changes is fingerprinted by the indexer.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from photofind.core.duplicates import fingerprint as fp
from photofind.core.duplicates.finder import Finder, Found, Progress
from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import VectorIndex, read_state

BACKFILL_MIN_SIDE = 64  # enough for 12×12 cells (JPEG draft decodes at 1/8 scale where it can)


def find_in_library(data: DataDir, kinds: tuple[str, ...] = ("exact", "near"),
                    within: str | None = None, progress: Progress | None = None,
                    notify: Callable[[str], None] | None = None) -> Found:
    """Groups of copies in the library of `data`. Raises PhotofindError (one line) when
    there is no library yet."""
    catalog = Catalog.open_for_reading(data.catalog)
    if catalog is None or not catalog.count_photos():
        if catalog is not None:
            catalog.close()
        raise PhotofindError("there is no library here yet; add your photos first with "
                             "'photofind index FOLDER'")
    backfill = _Backfill(catalog)
    try:
        state = read_state(catalog)
        index = None
        model = state.model if state else _any_model(catalog)
        if state is not None:
            index = VectorIndex.open_for_reading(data.root, catalog, state.model,
                                                 state.dim).index
        finder = Finder(catalog.conn, index, model, backfill)
        found = finder.find(kinds, within=within, progress=progress)
    finally:
        backfill.close()
        catalog.close()
    if backfill.made and notify is not None:
        notify(f"read {len(backfill.made)} photo(s) indexed before photofind kept pixel "
               "fingerprints, to compare them")
    return found


def _any_model(catalog: Catalog) -> str:
    row = catalog.conn.execute("SELECT model FROM photos LIMIT 1").fetchone()
    return row[0] if row else ""


class _Backfill:
    """Stored fingerprints, and for photos without one a fingerprint made from the file
    (if it still has the content the catalog knows)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.made: dict[int, tuple[str, bytes]] = {}  # id → (hash, fingerprint)
        self._pool = None

    def __call__(self, ids: list[int]) -> dict[int, bytes | None]:
        marks = ",".join("?" * len(ids))
        rows = self.catalog.conn.execute(
            f"SELECT id, fingerprint, path, hash FROM photos WHERE id IN ({marks})", ids)
        out: dict[int, bytes | None] = {}
        for i, blob, path, digest in rows:
            if fp.valid(blob):
                out[i] = blob
            elif i in self.made:
                out[i] = self.made[i][1]
            else:
                out[i] = self._make(i, path, digest)
        return out

    def _make(self, photo_id: int, path: str, digest: str) -> bytes | None:
        from photofind.core.ingest.decodepool import DecoderPool

        if self._pool is None:
            self._pool = DecoderPool()
        try:
            got, _size, decoded = self._pool.decode_file(
                path, BACKFILL_MIN_SIDE, lambda h, _s: h == digest, ask=False)
        except (NotAnImage, OSError):
            return None
        if decoded is None or got != digest:  # changed since it was indexed
            return None
        blob = fp.compute(decoded.image)
        self.made[photo_id] = (digest, blob)
        return blob

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def folder_arg(path: str) -> str:
    """An `--in` folder as the catalog spells paths (absolute, links resolved)."""
    return os.path.realpath(os.path.expanduser(path))
