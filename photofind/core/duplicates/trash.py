"""Moving the copies a person picked to the system Trash, after checking nothing changed.

photofind never deletes a photo. The duplicates view may move photos to the system Trash
(the GUI passes `QFile.moveToTrash`; the core never imports Qt), and only when:

- the person picked them and confirmed a list naming them;
- the photo kept in their group is still there, unchanged (trashing the others must never
  leave no copy of the picture);
- each file to trash is still the file the duplicates pass saw: same size, same
  modification time, same content hash as the catalog's.

If any check fails nothing is moved, and the answer says why in one line. A file the
system cannot trash (read-only drive, no trash on that volume) is said in one line too;
the others of the same confirmed request are still moved.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from photofind.core.duplicates.groups import Member

Mover = Callable[[str], None]  # moves one file to the system Trash; raises OSError if not


@dataclass
class TrashResult:
    moved: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    refused: str | None = None  # why nothing was moved


def _hash(path: str) -> str:
    digest = hashlib.blake2b(digest_size=16)  # as the indexer hashes (media/decode.py)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def changed(member: Member) -> str | None:
    """Why `member` is no longer the file the duplicates pass saw, or None."""
    name = os.path.basename(member.path)
    try:
        st = os.stat(member.path)
    except FileNotFoundError:
        return f"{name} is gone since the duplicates were found; run the search for duplicates again"
    except OSError as exc:
        return f"{name} cannot be checked ({exc.strerror or exc}); nothing was moved"
    if st.st_size != member.bytes or st.st_mtime_ns != member.mtime_ns:
        return (f"{name} changed since the duplicates were found; run the search for "
                "duplicates again before moving anything")
    try:
        if _hash(member.path) != member.hash:
            return (f"{name} changed since the duplicates were found; run the search for "
                    "duplicates again before moving anything")
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror or exc}); nothing was moved"
    return None


def move_to_trash(keep: Member, chosen: list[Member], mover: Mover) -> TrashResult:
    """Move `chosen` (never `keep`) to the Trash with `mover`, after the checks above."""
    result = TrashResult()
    chosen = [m for m in chosen if m.path != keep.path]
    if not chosen:
        result.refused = "nothing to move: the photo to keep is never moved"
        return result
    why = changed(keep)
    if why is not None:
        result.refused = f"the photo to keep: {why}"
        return result
    for m in chosen:
        why = changed(m)
        if why is not None:
            result.refused = why
            return result
    for m in chosen:
        try:
            mover(m.path)
        except OSError as exc:
            result.failed.append((m.path, _cannot(m.path, exc)))
        else:
            result.moved.append(m.path)
    return result


def _cannot(path: str, exc: OSError) -> str:
    name = os.path.basename(path)
    detail = exc.strerror or str(exc) or "the system refused"
    return (f"{name} could not be moved to the Trash ({detail}): the drive may be "
            "read-only or have no Trash; it was left where it is")
