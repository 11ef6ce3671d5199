"""Errors that people see. Each message says what happened and what to do next."""


class PhotofindError(Exception):
    """An expected failure: the CLI prints its message on one line, with no traceback."""


class ModelUnavailable(PhotofindError):
    """The model's weights are not on this machine and could not be fetched."""


class WriterBusy(PhotofindError):
    """Another photofind process holds the data directory's writer lock."""


class NotAnImage(PhotofindError):
    """A file could not be read as a supported image."""


class CatalogCorrupt(PhotofindError):
    """The catalog database is damaged; it is kept as it is and never silently replaced."""


def one_line(text: str | BaseException, limit: int = 200) -> str:
    """The first non-empty line of `text`, at most `limit` characters: reasons are stored
    and shown as one line. An exception with no message gives its class's name."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if lines:
        return lines[0][:limit]
    return type(text).__name__ if isinstance(text, BaseException) else ""


class DiskFull(PhotofindError):
    """The data directory could not be written: its disk is full, hit a size limit, or
    failed (an I/O error, a file system gone read-only)."""


def write_failure(exc: BaseException) -> str | None:
    """"full" for ENOSPC, EDQUOT, EFBIG or SQLite's SQLITE_FULL; "io" for EIO, EROFS or
    SQLite's SQLITE_IOERR/SQLITE_READONLY (SQLite reports EFBIG as an I/O error too);
    None for anything else."""
    import errno
    import sqlite3

    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return "full"
        return "io" if exc.errno in (errno.EIO, errno.EROFS) else None
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
            return "full"
        if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY) or "disk I/O error" in str(exc):
            return "io"
    return None


def is_disk_full(exc: BaseException) -> bool:
    return write_failure(exc) is not None


def disk_full(folder: object, exc: BaseException) -> DiskFull:
    """The one-line message for `write_failure(exc)`: what happened, and what to do."""
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if write_failure(exc) == "full":
        return DiskFull(f"the disk holding photofind's data folder {folder} is full ({detail}); "
                        "free some space there and index again: photos indexed so far are kept")
    return DiskFull(f"photofind could not write to its data folder {folder} ({detail}); check "
                    "that its disk has free space and works, then index again: photos indexed "
                    "so far are kept")
