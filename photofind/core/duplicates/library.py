"""The duplicates pass over a data directory, as `photofind duplicates` and the GUI's
review view run it: read-only on the catalog and the saved vector index.

Fingerprints are made by the indexer from the decode it already does. A catalog indexed
before they existed has none: the first pass makes them for the photos it needs (those
in a candidate pair), each file read once by a decoder process; when no other photofind
is writing (the writer lock is free) they are stored, so later passes read them. When
the window or `watch` holds the lock they are used for this pass only.
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
    if backfill.made:
        stored = store_fingerprints(data, backfill.made)
        if notify is not None:
            notify(f"made the pixel fingerprints of {len(backfill.made)} photo(s) indexed before "
                   + ("photofind had them; stored for next time" if stored else
                      "photofind had them (another photofind is writing: not stored)"))
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


def store_fingerprints(data: DataDir, made: dict[int, tuple[str, bytes]]) -> bool:
    """Store fingerprints made by a pass, under the writer lock, for rows that still have
    the content they were made from. False when another photofind holds the lock."""
    from photofind.core.errors import WriterBusy
    from photofind.core.store.lock import WriterLock

    try:
        lock = WriterLock(data.lock, "duplicates").acquire()
    except (WriterBusy, PhotofindError):
        return False
    try:
        catalog = Catalog.open_for_writing(data.catalog, data.backups)
        try:
            with catalog.db.atomic():
                catalog.conn.executemany(
                    "UPDATE photos SET fingerprint = ? WHERE id = ? AND hash = ?",
                    ((blob, i, digest) for i, (digest, blob) in made.items()))
        finally:
            catalog.close()
    finally:
        lock.release()
    return True


def folder_arg(path: str) -> str:
    """An `--in` folder as the catalog spells paths (absolute, links resolved)."""
    return os.path.realpath(os.path.expanduser(path))
