"""Finding image files under a library root.

The walk uses `os.scandir` and never follows a symbolic link, so it cannot leave the
root or loop; every file inside the root is still reached by its real path. Hidden
files and folders (names starting with a dot) are skipped. A file costs one `stat`.
A folder that cannot be listed is reported (`Problem` with `folder=True`: what it holds
is unknown, not gone), and so is a folder where another drive is mounted (`Mount`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from photofind.core.media.decode import EXTENSIONS
from photofind.core.store.catalog import is_within


@dataclass(frozen=True)
class Found:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Problem:
    """Something under the root that could not be looked at."""

    path: str
    reason: str
    folder: bool = False  # a whole folder could not be listed: its contents are unknown


@dataclass(frozen=True)
class Mount:
    """A folder inside the root where another file system is mounted (a drive)."""

    path: str


def display_path(path: str) -> str:
    """A printable form of any path, also one whose name is not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_printable(path: str) -> bool:
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def is_candidate(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in EXTENSIONS


def walk(root: str) -> Iterator[Found | Problem | Mount]:
    """Every candidate image file under `root` (depth first), what could not be read, and
    the mount points below it."""
    stack = [(root, os.stat(root).st_dev)]
    while stack:
        folder, device = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except FileNotFoundError:
            continue  # removed while we walked
        except OSError as exc:
            if folder == root:
                raise
            yield Problem(display_path(folder), f"folder could not be read: {exc.strerror or exc}",
                          folder=True)
            continue
        subfolders = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                yield Problem(display_path(entry.path), f"could not be read: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(st.st_mode):
                subfolders.append((entry.path, st.st_dev))
                if st.st_dev != device:
                    yield Mount(entry.path)
            elif stat.S_ISREG(st.st_mode) and is_candidate(name):
                if not is_printable(entry.path):
                    yield Problem(
                        display_path(entry.path),
                        "the file name is not valid UTF-8; rename the file to index it",
                    )
                    continue
                yield Found(entry.path, st.st_size, st.st_mtime_ns)
        stack.extend(sorted(subfolders, reverse=True))


def walk_scope(scope: str, root: str) -> Iterator[Found | Problem | Mount]:
    """What `walk(root)` would report at or below `scope`, a file or folder inside `root`:
    the scanner's rules (no hidden names, no symlinks, image extensions only) applied to
    one path the file watcher named. A scope that no longer exists yields nothing."""
    if scope == root:
        yield from walk(root)
        return
    relative = scope[len(root.rstrip(os.sep)) + 1:]
    if any(part.startswith(".") for part in relative.split(os.sep)):
        return
    parent = os.path.dirname(scope)
    if os.path.realpath(parent) != parent:
        return  # reached through a symbolic link, or its folder is gone
    try:
        st = os.lstat(scope)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:  # its folder cannot be searched: whatever is there is unknown
        yield Problem(display_path(scope), f"could not be read: {exc.strerror or exc}",
                      folder=True)
        return
    if stat.S_ISDIR(st.st_mode):
        try:
            yield from walk(scope)
        except FileNotFoundError:
            return
        except OSError as exc:
            yield Problem(display_path(scope), f"folder could not be read: {exc.strerror or exc}",
                          folder=True)
    elif stat.S_ISREG(st.st_mode) and is_candidate(os.path.basename(scope)):
        if not is_printable(scope):
            yield Problem(display_path(scope),
                          "the file name is not valid UTF-8; rename the file to index it")
            return
        yield Found(scope, st.st_size, st.st_mtime_ns)


def plan_targets(roots: list[str], scopes: Iterable[str] | None) -> list[tuple[str, str]]:
    """(root, scope) pairs to look at: every root whole, or each scope under its root,
    dropping scopes outside all roots and scopes inside another scope."""
    if scopes is None:
        return [(root, root) for root in roots]
    accepted: set[str] = set()
    targets = []
    for scope in sorted({os.path.normpath(s) for s in scopes}, key=len):
        root = next((r for r in roots if is_within(scope, r)), None)
        if root is None or _covered(scope, root, accepted):
            continue
        accepted.add(scope)
        targets.append((root, scope))
    return sorted(targets)


def _covered(path: str, root: str, accepted: set[str]) -> bool:
    while True:
        if path in accepted:
            return True
        if path == root:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
