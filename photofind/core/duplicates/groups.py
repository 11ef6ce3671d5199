"""Duplicate groups: their members, the one proposed to keep, and why.

The keeper is the copy with the most pixels; among equals, the original format over a
re-encode or conversion (a camera's JPEG/HEIC over a PNG, TIFF, BMP or WebP made from
it; the file that kept its camera date over one whose EXIF was stripped; the larger
file of one format, being the less compressed), then the oldest date taken, then the
path (so the proposal never changes between runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

KINDS = ("exact", "near", "burst")
# formats cameras and phones write; a PNG/TIFF/BMP/WebP/GIF of the same picture is most
# likely made from one of them
CAMERA_FORMATS = frozenset({"JPEG", "HEIF", "AVIF"})


@dataclass(frozen=True)
class Member:
    id: int
    path: str
    bytes: int
    width: int | None
    height: int | None
    format: str | None
    taken: str | None  # EXIF date taken
    date: str | None  # EXIF date, else the file's modification time
    mtime_ns: int
    hash: str
    similarity: float = 1.0  # to the keeper: 1.0 identical pixels (see fingerprint.py)

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    def to_json(self) -> dict:
        return {"path": self.path, "bytes": self.bytes, "width": self.width,
                "height": self.height, "type": self.format, "taken": self.taken,
                "date": self.date, "folder": self.folder, "similarity": self.similarity}


@dataclass
class Group:
    kind: str  # "exact", "near" or "burst"
    photos: list[Member]  # the keeper first
    why: str = ""
    keep: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.photos, self.why = choose_keeper(self.photos, self.kind)
        self.keep = self.photos[0].path

    @property
    def others(self) -> list[Member]:
        return self.photos[1:]

    def to_json(self) -> dict:
        return {"kind": self.kind, "keep": self.keep, "why": self.why,
                "photos": [m.to_json() for m in self.photos]}


def _rank(m: Member, camera_in_group: bool) -> tuple:
    converted = camera_in_group and (m.format or "") not in CAMERA_FORMATS
    return (-m.pixels, converted, m.taken is None, -m.bytes, m.date or "9999", m.mtime_ns,
            m.path)


def choose_keeper(members: list[Member], kind: str) -> tuple[list[Member], str]:
    """The members, the proposed keeper first (others by the same order), and why."""
    camera = any((m.format or "") in CAMERA_FORMATS for m in members)
    ordered = sorted(members, key=lambda m: _rank(m, camera))
    return ordered, _why(ordered, camera, kind)


def _why(ordered: list[Member], camera: bool, kind: str) -> str:
    keep, rest = ordered[0], ordered[1:]
    if not rest:
        return "the only copy"
    if kind == "burst":
        prefix = "taken within seconds of each other; "
    else:
        prefix = ""
    if kind == "exact" and all(m.hash == keep.hash for m in rest):
        if any((m.date or "") != (keep.date or "") for m in rest):
            return f"identical files; this one is the oldest ({_day(keep.date)})"
        if any(m.mtime_ns != keep.mtime_ns for m in rest):
            return "identical files; this one was written first"
        return "identical files of the same date; the first by name"
    # the best of the others that is not a byte-identical copy of the keeper
    runner = next((m for m in rest if m.hash != keep.hash), rest[0])
    if keep.pixels > runner.pixels:
        return (f"{prefix}the most pixels: {keep.width}×{keep.height} "
                f"(the next largest is {runner.width}×{runner.height})")
    k_conv = camera and (keep.format or "") not in CAMERA_FORMATS
    r_conv = camera and (runner.format or "") not in CAMERA_FORMATS
    if r_conv and not k_conv:
        return (f"{prefix}{_largest(keep)}, in the camera's format "
                f"({keep.format}; the {runner.format} copy is a conversion)")
    if keep.taken is not None and runner.taken is None:
        return (f"{prefix}{_largest(keep)}, and it kept its camera date "
                f"({_day(keep.taken)}); the others lost theirs in a re-encode or edit")
    if keep.bytes > runner.bytes:
        return (f"{prefix}{_largest(keep)}, and the largest file of its format "
                f"({_size(keep.bytes)}: the least compressed)")
    if (keep.date or "") < (runner.date or "9999"):
        return f"{prefix}{_largest(keep)} and as large a file as any; the oldest ({_day(keep.date)})"
    return f"{prefix}as good as the others by size, format and date; the first by name"


def _largest(m: Member) -> str:
    return f"the most pixels ({m.width}×{m.height}, as some others)"


def _day(date: str | None) -> str:
    return (date or "no date")[:16].replace("T", " ")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"
