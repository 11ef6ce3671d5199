"""The catalog's schema, as numbered migrations (sqlite-utils `Migrations`): each runs
once per catalog, in order, and a catalog that has pending ones is backed up first
(catalog.py). A new table or column is a new `mNNN_` function at the end of this file;
a migration never changes once released."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("photofind")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE roots (path TEXT PRIMARY KEY, added_at REAL NOT NULL);
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL UNIQUE,
            root TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            hash TEXT NOT NULL,
            width INTEGER,
            height INTEGER,
            taken TEXT,
            format TEXT,
            model TEXT,
            dim INTEGER,
            vector BLOB,
            seq INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX photos_root ON photos(root);
        CREATE INDEX photos_hash ON photos(hash);
        CREATE INDEX photos_model_seq ON photos(model, seq);
        CREATE TABLE failures (
            path TEXT PRIMARY KEY,
            root TEXT NOT NULL,
            size INTEGER,
            mtime_ns INTEGER,
            reason TEXT NOT NULL,
            failed_at REAL NOT NULL
        );
        CREATE INDEX failures_root ON failures(root);
        """
    )


# When a photo was taken, as search filters and sorts by it: the EXIF date (local time
# of the camera) where there is one, else the file's modification time in this computer's
# local time; `taken_from` says which. Kept by triggers, so no writer can forget it.
# `folder` is the path up to its last separator (for `in:` filters), kept the same way.
_DATE_OF_NEW = ("COALESCE(substr(NEW.taken, 1, 19), strftime('%Y-%m-%dT%H:%M:%S', "
                "NEW.mtime_ns / 1000000000, 'unixepoch', 'localtime'))")
_FOLDER_OF_NEW = "rtrim(NEW.path, replace(replace(NEW.path, '/', ''), '\\', ''))"


@migrations()
def m002_dates(db: sqlite_utils.Database) -> None:
    db.executescript(
        f"""
        ALTER TABLE photos ADD COLUMN date TEXT;
        ALTER TABLE photos ADD COLUMN taken_from TEXT;
        ALTER TABLE photos ADD COLUMN folder TEXT;
        UPDATE photos SET
            date = COALESCE(substr(taken, 1, 19), strftime('%Y-%m-%dT%H:%M:%S',
                            mtime_ns / 1000000000, 'unixepoch', 'localtime')),
            taken_from = CASE WHEN taken IS NULL THEN 'file' ELSE 'exif' END,
            folder = rtrim(path, replace(replace(path, '/', ''), '\\', ''));
        CREATE INDEX photos_model_date ON photos(model, date);
        CREATE INDEX photos_model_folder ON photos(model, folder);
        CREATE TRIGGER photos_date_insert AFTER INSERT ON photos BEGIN
            UPDATE photos SET date = {_DATE_OF_NEW}, folder = {_FOLDER_OF_NEW},
                taken_from = CASE WHEN NEW.taken IS NULL THEN 'file' ELSE 'exif' END
            WHERE id = NEW.id;
        END;
        CREATE TRIGGER photos_date_update AFTER UPDATE OF taken, mtime_ns, path ON photos
        BEGIN
            UPDATE photos SET date = {_DATE_OF_NEW}, folder = {_FOLDER_OF_NEW},
                taken_from = CASE WHEN NEW.taken IS NULL THEN 'file' ELSE 'exif' END
            WHERE id = NEW.id;
        END;
        """
    )


@migrations()
def m003_fingerprints(db: sqlite_utils.Database) -> None:
    """The pixel fingerprint of each photo (core/duplicates/fingerprint.py), made by the
    indexer from the decode it does for the model; NULL for photos indexed before."""
    db.execute("ALTER TABLE photos ADD COLUMN fingerprint BLOB")
