"""Drives under the library: which folders are mount points, and which are offline now.

An unplugged drive is not a deleted folder. A root, or a folder inside a root, where
another file system was mounted when photofind last looked is remembered in the
catalog (meta key `mount_points`). When it is no longer a mount point (its drive was
unplugged or unmounted, whatever the bare folder under it holds: KDE leaves a
`.directory` there), it is *offline*: its photos are kept, and it is looked at again once
it is mounted. The decision rests on the mount (the folder's device differs from its
parent's), not on the folder being empty.
"""

from __future__ import annotations

import json
import os

from photofind.core.store.catalog import Catalog, _subtree_bounds, is_within

MOUNTS_KEY = "mount_points"


def is_mount(path: str) -> bool:
    """True when `path` is a folder where another file system is mounted now."""
    try:
        return os.path.ismount(path)
    except (OSError, ValueError):
        return False


def remembered(catalog: Catalog) -> set[str]:
    """The mount points photofind has seen at or under the library roots."""
    raw = catalog.get_meta(MOUNTS_KEY)
    try:
        paths = json.loads(raw) if raw else []
    except ValueError:
        return set()
    return {p for p in paths if isinstance(p, str)}


def remember(catalog: Catalog, mounts: set[str], scope: str) -> None:
    """Record the mount points a walk of `scope` found (call inside a transaction): new
    ones are added; remembered ones under `scope` that are not mounted and hold no
    cataloged photo any more are forgotten (nothing is left to keep for them)."""
    known = remembered(catalog)
    keep = set(known)
    for path in known:
        if is_within(path, scope) and path not in mounts and not is_mount(path) \
                and not _holds_photos(catalog, path):
            keep.discard(path)
    keep |= mounts
    if keep != known:
        catalog.set_meta(MOUNTS_KEY, json.dumps(sorted(keep)))


def _holds_photos(catalog: Catalog, folder: str) -> bool:
    low, high = _subtree_bounds(folder)
    return catalog.conn.execute(
        "SELECT 1 FROM photos WHERE path >= ? AND path < ? LIMIT 1", (low, high)
    ).fetchone() is not None


def offline_within(catalog: Catalog, root: str) -> list[str]:
    """Remembered mount points at or under `root` whose drive is gone (not mounted now)."""
    return sorted(path for path in remembered(catalog)
                  if is_within(path, root) and not is_mount(path))


def under_any(path: str, folders: list[str]) -> bool:
    return bool(folders) and any(is_within(path, folder) for folder in folders)


def root_online(root: str, catalog: Catalog) -> bool:
    """A root is offline when it is missing, when it was a mount point and its drive is
    gone, or when it shows nothing but hidden files while the catalog holds photos for it
    (an unplugged drive's bare mount point, not yet remembered). Offline roots lose
    nothing."""
    if not os.path.isdir(root):
        return False
    if not catalog.has_photos_under(root):
        return True
    if root in remembered(catalog) and not is_mount(root):
        return False
    try:
        with os.scandir(root) as it:
            return any(not entry.name.startswith(".") for entry in it)
    except OSError:
        return False
