"""A query's filters as SQL over the catalog's indexed columns (`date`, `folder`,
`format`, `width`/`height`), and `in:` folders resolved against the library."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from photofind.core.search.query import Query, QueryError
from photofind.core.store.catalog import Catalog, is_within

SQUARE_TOLERANCE = 0.02  # |width - height| within 2% of the longer side is square
_SEPARATORS = "/\\"


def _looks_like_path(value: str) -> bool:
    return value.startswith(("~", ".")) or any(s in value for s in _SEPARATORS)


def _upper(prefix: str) -> str:
    """The smallest string above every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass(frozen=True)
class Where:
    """SQL conditions on the photos table, AND-ed, with their parameters."""

    sql: str
    params: tuple

    @property
    def empty(self) -> bool:
        return not self.sql


def folder_prefixes(catalog: Catalog, folders: Sequence[str],
                    known_folders: Sequence[str] | None = None) -> list[str]:
    """Each `in:` value as folder prefixes ending in a separator: a path inside the
    library, or a folder name matched (case-insensitively) anywhere in it."""
    prefixes: list[str] = []
    roots = catalog.roots()
    for value in folders:
        if _looks_like_path(value):
            path = os.path.realpath(os.path.expanduser(value))
            if not any(is_within(path, root) for root in roots):
                raise QueryError(f"in:{value}: that folder is not in the library; its folders "
                                 f"are under {', '.join(roots) or 'no folder yet'}")
            prefixes.append(path.rstrip(_SEPARATORS) + os.sep)
            continue
        if known_folders is None:
            known_folders = distinct_folders(catalog)
        name = value.strip(_SEPARATORS).casefold()
        found = set()
        for folder in known_folders:
            parts = folder.replace("\\", "/").rstrip("/").split("/")
            for i, part in enumerate(parts):
                if part.casefold() == name:
                    sep = "\\" if "\\" in folder and "/" not in folder else "/"
                    found.add(sep.join(parts[: i + 1]) + sep)
        if not found:
            raise QueryError(f"in:{value}: no folder of that name holds photos in the "
                             "library; give a folder name or a path inside it")
        prefixes.extend(sorted(found))
    # a prefix inside another adds nothing
    kept = []
    for p in sorted(set(prefixes)):
        if not any(p != q and p.startswith(q) for q in prefixes):
            kept.append(p)
    return kept


def distinct_folders(catalog: Catalog) -> list[str]:
    return [row[0] for row in catalog.conn.execute(
        "SELECT DISTINCT folder FROM photos WHERE folder IS NOT NULL")]


def where(query: Query, prefixes: Sequence[str]) -> Where:
    """The query's filters as conditions on `photos` (each served by an index where one
    exists: `photos_date`, `photos_folder`)."""
    sql: list[str] = []
    params: list = []
    if query.after:
        sql.append("date >= ?")
        params.append(query.after.isoformat())
    if query.before:
        sql.append("date < ?")
        params.append(query.before.isoformat())
    if prefixes:
        sql.append("(" + " OR ".join("(folder >= ? AND folder < ?)" for _ in prefixes) + ")")
        for p in prefixes:
            params += [p, _upper(p)]
    if query.types:
        sql.append(f"format IN ({','.join('?' * len(query.types))})")
        params += list(query.types)
        if "JPEG" in query.types:  # Pillow calls a multi-picture JPEG "MPO"
            sql[-1] = sql[-1][:-1] + ",'MPO')"
    if query.orientation:
        tol = 1 + SQUARE_TOLERANCE
        if query.orientation == "portrait":
            sql.append(f"height > width * {tol}")
        elif query.orientation == "landscape":
            sql.append(f"width > height * {tol}")
        else:
            sql.append(f"width <= height * {tol} AND height <= width * {tol}")
    return Where(" AND ".join(sql), tuple(params))
