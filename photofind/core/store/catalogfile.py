"""Opening the catalog's file, and what goes wrong with it: connections (readers never
write, even on a full or read-only disk), and the one-line errors for a catalog that is
damaged, locked by another program, or on a disk that cannot be written.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

from photofind.core.errors import (
    CatalogCorrupt,
    PhotofindError,
    disk_full,
    one_line,
    write_failure,
)


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        return _connect_readonly(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection. A WAL catalog's reader must create (or write) its `-shm`
    file; where it cannot (a full or read-only data disk, after the writer's clean exit
    removed it), no writer can be running there either, and the catalog is opened as
    `immutable`: read as it lies on disk, with no shared memory and no locks."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if is_corrupt(exc) or "locked" in str(exc):
            raise
        conn.close()
    return sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True,
                           isolation_level=None, check_same_thread=False)


SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26


def is_corrupt(exc: BaseException) -> bool:
    """True when SQLite says the catalog's bytes are damaged (not: locked, full, missing)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    # photofind stores only valid UTF-8, so text that is not is damage too
    return str(exc).startswith("Could not decode to UTF-8")


def open_error(path: Path, exc: sqlite3.DatabaseError | OSError) -> PhotofindError:
    if is_corrupt(exc):
        return damaged(path, exc)
    if write_failure(exc):  # a full or read-only data disk: DiskFull, which watch waits out
        return disk_full(path.parent, exc)
    if is_locked(exc):
        return locked(path)
    return PhotofindError(f"could not open the catalog {path} ({one_line(exc)})")


def is_locked(exc: BaseException) -> bool:
    """True when another connection held a lock on the catalog for the whole busy timeout."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def locked(path: Path) -> PhotofindError:
    return PhotofindError(
        f"another program keeps photofind's catalog {path} locked (SQLite said: database is "
        "locked); close the program that has it open, then try again")


def damaged(path: Path, exc: BaseException) -> CatalogCorrupt:
    """The error for a damaged catalog, after keeping a copy of it (once) in backups/.
    The catalog itself is never changed or replaced: only the person decides that."""
    folder = path.parent
    kept = _keep_damaged_copy(path)
    where = f"kept a copy in {kept}" if kept else "could not make a copy of it"
    earlier = sorted((folder / "backups").glob("catalog-before-*.db"))
    restore = (f", or copy {earlier[-1]} (made before the last upgrade) to {path}"
               if earlier else "")
    return CatalogCorrupt(
        f"the catalog {path} is damaged ({one_line(exc)}); photofind changed nothing and "
        f"{where}. To start again, delete {path.name}, {path.name}-wal and {path.name}-shm "
        f"from {folder} and run 'photofind index' with your photo folders{restore}"
    )


def _keep_damaged_copy(path: Path) -> Path | None:
    """Copy a damaged catalog (and its WAL) to backups/catalog-damaged-<mtime>.db, once per
    state of the file; returns the copy."""
    try:
        st = path.stat()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(st.st_mtime))
        target = path.parent / "backups" / f"catalog-damaged-{stamp}-{st.st_size}.db"
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for suffix in ("-wal", ""):  # the WAL first: the .db's appearance means complete
            source = path.with_name(path.name + suffix)
            if suffix and not source.exists():
                continue
            tmp = target.with_name(f"{target.name}{suffix}.part")
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target.with_name(target.name + suffix))
        return target
    except OSError:
        return None
