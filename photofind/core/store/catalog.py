"""The catalog: SQLite, the source of truth for photos, their vectors, failures and roots.

Everything else (the usearch index, thumbnails) can be rebuilt from it. One writer
(the indexer) changes it; readers open their own connections. WAL mode lets readers
see the last committed state while the writer works.

Every vector change gets a new value of the `seq` counter, so a vector index that
records the last `seq` it holds can catch up with the catalog cheaply.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from photofind.core.errors import CatalogCorrupt
from photofind.core.store.catalogfile import (  # noqa: F401  (also imported from here)
    connect,
    damaged,
    is_corrupt,
    is_locked,
    locked,
    open_error,
)
from photofind.core.store.schema import migrations

PHOTO_COLUMNS = ("id, path, root, size, mtime_ns, hash, width, height, taken, format, model, "
                 "date, taken_from")


@dataclass(frozen=True)
class Photo:
    id: int
    path: str
    root: str
    size: int
    mtime_ns: int
    hash: str
    width: int | None
    height: int | None
    taken: str | None
    format: str | None
    model: str | None
    date: str | None = None  # EXIF date, else the file's (local time, ISO 8601)
    taken_from: str | None = None  # "exif" or "file"


@dataclass(frozen=True)
class Known:
    """What the scanner needs to know about a cataloged file to decide what to do with it."""

    id: int
    size: int
    mtime_ns: int
    model: str | None


@dataclass(frozen=True)
class NewPhoto:
    path: str
    root: str
    size: int
    mtime_ns: int
    hash: str
    width: int | None
    height: int | None
    taken: str | None
    format: str | None
    model: str
    vector: np.ndarray
    fingerprint: bytes | None = None  # pixels, for duplicates (core/duplicates)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


class Catalog:
    """A connection to the catalog. Writers call `open_for_writing`; readers `open_for_reading`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path

    # --- opening -----------------------------------------------------------------

    @classmethod
    def open_for_writing(cls, path: Path, backups: Path | None = None) -> Catalog:
        existed = path.exists() and path.stat().st_size > 0
        try:
            if not path.exists():  # owner-only from the start, whatever the umask
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise open_error(path, exc) from None
        try:
            conn = connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            catalog = cls(conn, path)
            pending = migrations.pending(catalog.db)
            if pending and existed and migrations.applied(catalog.db) and backups is not None:
                catalog.backup(backups / f"catalog-before-{pending[0].name}-{int(time.time())}.db")
            migrations.apply(catalog.db)
        except sqlite3.DatabaseError as exc:
            raise open_error(path, exc) from None
        if os.name == "posix" and path.stat().st_mode & 0o077:
            try:
                os.chmod(path, 0o600)  # photofind's own file: made by an older version
            except OSError:
                pass
        return catalog

    @classmethod
    def open_for_reading(cls, path: Path) -> Catalog | None:
        """A read-only connection, or None when no catalog exists yet."""
        if not path.exists():
            return None
        try:
            conn = connect(path, readonly=True)
            catalog = cls(conn, path)
            if migrations.pending(catalog.db):
                raise CatalogCorrupt(
                    f"the catalog at {path} was written by a different version of photofind; "
                    "run 'photofind index' once to upgrade it"
                )
        except sqlite3.DatabaseError as exc:
            raise open_error(path, exc) from None
        return catalog

    def close(self) -> None:
        self.conn.close()

    def backup(self, target: Path) -> None:
        """A consistent copy of the catalog at `target`, which appears only once complete
        (a crash mid-copy must not leave a half copy that looks like a backup)."""
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in target.parent.glob("catalog-before-*.part"):  # a crash's leftovers
            stale.unlink(missing_ok=True)
        tmp = target.with_name(target.name + ".part")
        dest = sqlite3.connect(tmp)
        try:
            self.conn.backup(dest)
        finally:
            dest.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # --- meta --------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_seq(self) -> int:
        """The next value of the vector-change counter (call inside a transaction)."""
        seq = int(self.get_meta("seq", "0")) + 1
        self.set_meta("seq", str(seq))
        return seq

    # --- roots -------------------------------------------------------------------

    def roots(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM roots ORDER BY path")]

    def add_root(self, path: str) -> None:
        """Remember a library root. A root inside another is covered by it; one that
        contains existing roots takes their photos over."""
        with self.db.atomic():
            for existing in self.roots():
                if is_within(path, existing):
                    return
                if is_within(existing, path):
                    self.conn.execute("DELETE FROM roots WHERE path = ?", (existing,))
                    self.conn.execute("UPDATE photos SET root = ? WHERE root = ?", (path, existing))
                    self.conn.execute(
                        "UPDATE failures SET root = ? WHERE root = ?", (path, existing)
                    )
            self.conn.execute(
                "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)", (path, time.time())
            )

    def remove_root(self, path: str) -> int:
        """Forget a root and its photos (the photos themselves are never touched)."""
        with self.db.atomic():
            n = self.conn.execute("DELETE FROM photos WHERE root = ?", (path,)).rowcount
            self.conn.execute("DELETE FROM failures WHERE root = ?", (path,))
            self.conn.execute("DELETE FROM roots WHERE path = ?", (path,))
        return n

    def root_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.roots(), 0)
        for root, n in self.conn.execute("SELECT root, COUNT(*) FROM photos GROUP BY root"):
            counts[root] = n
        return counts

    # --- photos: reading ---------------------------------------------------------

    def known_under(self, root: str) -> dict[str, Known]:
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, model FROM photos WHERE root = ?", (root,)
        )
        return {p: Known(i, s, m, mod) for p, i, s, m, mod in rows}

    def known_within(self, scope: str) -> dict[str, Known]:
        """Cataloged files at `scope` or below it (a file path or a folder)."""
        low, high = _subtree_bounds(scope)
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, model FROM photos"
            " WHERE path = ? OR (path >= ? AND path < ?)", (scope, low, high),
        )
        return {p: Known(i, s, m, mod) for p, i, s, m, mod in rows}

    def failures_within(self, scope: str) -> dict[str, tuple[int, int, str]]:
        low, high = _subtree_bounds(scope)
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, reason FROM failures"
            " WHERE path = ? OR (path >= ? AND path < ?)", (scope, low, high),
        )
        return {p: (s, m, r) for p, s, m, r in rows}

    def has_photos_under(self, root: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM photos WHERE root = ? LIMIT 1", (root,)
        ).fetchone() is not None

    def failures_under(self, root: str) -> dict[str, tuple[int, int, str]]:
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, reason FROM failures WHERE root = ?", (root,)
        )
        return {p: (s, m, r) for p, s, m, r in rows}

    def ids_by_hash(self, model: str) -> dict[str, int]:
        """hash → photo id, for photos whose vector was made by `model`."""
        rows = self.conn.execute(
            "SELECT hash, id FROM photos WHERE model = ? AND vector IS NOT NULL", (model,)
        )
        return dict(rows)

    def photos(self, ids: Iterable[int]) -> dict[int, Photo]:
        ids = list(ids)
        found: dict[int, Photo] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = Photo(*row)
        return found

    def photo_by_path(self, path: str) -> Photo | None:
        row = self.conn.execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE path = ?", (path,)
        ).fetchone()
        return Photo(*row) if row else None

    def vector(self, photo_id: int) -> np.ndarray | None:
        row = self.conn.execute("SELECT vector FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return decode_vector(row[0]) if row and row[0] is not None else None

    def count_photos(self, model: str | None = None) -> int:
        if model is None:
            return self.conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        # Every write sets a row's model together with its vector, so the (model, seq)
        # index answers this, and max_seq and ids_for_model, without reading rows (a cold
        # search at 100k photos spent 0.3 s reading them).
        return self.conn.execute(
            "SELECT COUNT(*) FROM photos WHERE model = ?", (model,)).fetchone()[0]

    def count_searchable(self, model: str) -> int:
        """Photos of `model` with their vectors, reading every row (for `status`, which
        thereby also notices damaged photo pages; searches use `count_photos`)."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM photos WHERE model = ? AND vector IS NOT NULL", (model,)
        ).fetchone()[0]

    def count_saved(self, model: str, seq: int) -> int:
        """Photos of `model` last changed at or before `seq`: the count of an index saved at
        `seq` when none of its photos has been deleted or re-embedded since."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM photos WHERE model = ? AND seq <= ?", (model, seq)
        ).fetchone()[0]

    def count_failures(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM failures").fetchone()[0]

    def failures(self) -> list[tuple[str, str]]:
        return list(self.conn.execute("SELECT path, reason FROM failures ORDER BY path"))

    def max_seq(self, model: str) -> int:
        row = self.conn.execute(
            "SELECT MAX(seq) FROM photos WHERE model = ?", (model,)
        ).fetchone()
        return row[0] or 0

    def iter_vectors(
        self, model: str, after_seq: int = 0, batch: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 vectors) in batches, for photos of `model` changed after `after_seq`."""
        cursor = self.conn.execute(
            "SELECT id, vector FROM photos WHERE model = ? AND vector IS NOT NULL AND seq > ?",
            (model, after_seq),
        )
        while rows := cursor.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
            dim = len(rows[0][1]) // 2
            blob = b"".join(r[1] for r in rows)
            vectors = np.frombuffer(blob, dtype=np.float16).reshape(len(rows), dim)
            yield ids, vectors.astype(np.float32)

    def ids_for_model(self, model: str) -> np.ndarray:
        rows = self.conn.execute(
            "SELECT id FROM photos WHERE model = ?", (model,)
        )
        return np.fromiter((r[0] for r in rows), dtype=np.uint64)

    # --- photos: writing (the one writer only) ------------------------------------

    def insert_photo(self, photo: NewPhoto) -> int:
        cursor = self.conn.execute(
            "INSERT INTO photos(path, root, size, mtime_ns, hash, width, height, taken, format,"
            " model, dim, vector, seq, indexed_at, fingerprint)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                photo.path, photo.root, photo.size, photo.mtime_ns, photo.hash, photo.width,
                photo.height, photo.taken, photo.format, photo.model, len(photo.vector),
                encode_vector(photo.vector), self.next_seq(), time.time(), photo.fingerprint,
            ),
        )
        self.conn.execute("DELETE FROM failures WHERE path = ?", (photo.path,))
        return int(cursor.lastrowid)

    def replace_photo(self, photo_id: int, photo: NewPhoto) -> None:
        """New content (or a new model) for a cataloged path: same id, new vector."""
        self.conn.execute(
            "UPDATE photos SET path=?, root=?, size=?, mtime_ns=?, hash=?, width=?, height=?,"
            " taken=?, format=?, model=?, dim=?, vector=?, seq=?, indexed_at=?, fingerprint=?"
            " WHERE id=?",
            (
                photo.path, photo.root, photo.size, photo.mtime_ns, photo.hash, photo.width,
                photo.height, photo.taken, photo.format, photo.model, len(photo.vector),
                encode_vector(photo.vector), self.next_seq(), time.time(), photo.fingerprint,
                photo_id,
            ),
        )
        self.conn.execute("DELETE FROM failures WHERE path = ?", (photo.path,))

    def move_photo(self, photo_id: int, path: str, root: str, mtime_ns: int) -> None:
        self.conn.execute(
            "UPDATE photos SET path = ?, root = ?, mtime_ns = ? WHERE id = ?",
            (path, root, mtime_ns, photo_id),
        )
        self.conn.execute("DELETE FROM failures WHERE path = ?", (path,))

    def copy_photo(self, source_id: int, path: str, root: str, size: int, mtime_ns: int) -> int:
        """A byte-identical copy of a known photo: a new row sharing its vector."""
        cursor = self.conn.execute(
            "INSERT INTO photos(path, root, size, mtime_ns, hash, width, height, taken, format,"
            " model, dim, vector, seq, indexed_at, fingerprint)"
            " SELECT ?, ?, ?, ?, hash, width, height, taken, format, model, dim, vector, ?, ?,"
            " fingerprint FROM photos WHERE id = ?",
            (path, root, size, mtime_ns, self.next_seq(), time.time(), source_id),
        )
        self.conn.execute("DELETE FROM failures WHERE path = ?", (path,))
        return int(cursor.lastrowid)

    def delete_photos(self, ids: Iterable[int]) -> None:
        self.conn.executemany("DELETE FROM photos WHERE id = ?", ((i,) for i in ids))

    def record_failure(self, path: str, root: str, size: int | None, mtime_ns: int | None,
                       reason: str) -> None:
        self.conn.execute(
            "INSERT INTO failures(path, root, size, mtime_ns, reason, failed_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET root=excluded.root,"
            " size=excluded.size, mtime_ns=excluded.mtime_ns, reason=excluded.reason,"
            " failed_at=excluded.failed_at",
            (path, root, size, mtime_ns, reason, time.time()),
        )

    def delete_failures(self, paths: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM failures WHERE path = ?", ((p,) for p in paths))


def _subtree_bounds(folder: str) -> tuple[str, str]:
    """[low, high) such that every path strictly below `folder` sorts inside it (uses the
    unique index on `path`; the separator's successor character closes the range)."""
    prefix = folder.rstrip(os.sep)
    return prefix + os.sep, prefix + chr(ord(os.sep) + 1)


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or lies below it (plain string paths, already absolute)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

