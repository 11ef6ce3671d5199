"""What an indexer run reports, and the records it passes between its stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    stage: str  # "scanning", "indexing", "saving", "done"
    done: int = 0
    total: int = 0
    root: str = ""


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    moved: int = 0
    unchanged: int = 0
    failed: list[dict] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0
    missing_roots: list[str] = field(default_factory=list)  # also drives unmounted inside one
    unreachable: int = 0  # photos kept because their folder could not be read
    stopped: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    deferred: dict[str, float] = field(default_factory=dict)  # path → wall time to retry

    @property
    def changes(self) -> int:
        return self.added + self.updated + self.removed + self.moved + len(self.failed)

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed,
            "moved": self.moved, "unchanged": self.unchanged, "failed": self.failed,
            "embedded": self.embedded, "seconds": round(self.seconds, 3),
            "missing_roots": self.missing_roots, "unreachable": self.unreachable,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass
class Job:
    kind: str  # "new", "changed"
    path: str
    root: str
    size: int
    mtime_ns: int
    known_id: int | None = None


@dataclass
class Prepared:
    job: Job
    hash: str = ""
    reuse_id: int | None = None
    tensor: object = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    taken: str | None = None
    fingerprint: bytes | None = None  # pixels, for duplicates (from the same decode)
    error: str | None = None
    deferred: float | None = None  # still being written: wall time worth looking again
    vanished: bool = False  # deleted before it could be read: nothing to record
    seconds: float = 0.0


ProgressFn = Callable[[Progress], None]
