"""What the write path is asked to do, and what it answers: typed commands and events.

Commands go to the library worker (`LibraryWorker.send`, while it watches) or to a
one-shot `WriteSession` (session.py: `photofind index`, `demo`, `library remove`, and the
desktop app's setup steps, which need the library with no worker running). Events come
back through the worker's callbacks: `Progress` (indexreport.py), `Burst`, `WorkerState`,
notes and failures as one-line strings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from photofind.core.ingest.indexreport import IndexReport
from photofind.core.model.specs import ModelSpec


@dataclass(frozen=True)
class AddRoots:
    """Remember folders as library roots (answers the roots as stored)."""

    paths: tuple[str, ...]


@dataclass(frozen=True)
class RemoveRoot:
    """Forget a library root and its photos (answers how many); files are not touched."""

    root: str


@dataclass(frozen=True)
class Rescan:
    """Reconcile one root (None: every online root) with the catalog, as on start."""

    root: str | None = None


@dataclass(frozen=True)
class SetModel:
    """Load the model to index with: `spec`, else the library's, else the default; a new
    one becomes the library's model and its photos are re-embedded. `lazy`: load the
    weights only once something needs embedding."""

    spec: ModelSpec | None = None
    device: str = "auto"
    threads: int | None = None
    backend: str = "auto"
    precision: str = "int8"
    lazy: bool = False


@dataclass(frozen=True)
class WriteDemo:
    """Write `count` demo scenes into the data directory's `demo-library` and add it as
    a root, with the shipped demo model (refused where other photos are indexed)."""

    count: int
    device: str = "cpu"
    threads: int | None = None


@dataclass(frozen=True)
class IndexPaths:
    """Bring the index in line with `roots` (None: every root); `workers` decoder threads,
    `batch_size` photos a batch."""

    roots: tuple[str, ...] | None = None
    workers: int | None = None
    batch_size: int = 32


Command = AddRoots | RemoveRoot | Rescan | SetModel | WriteDemo | IndexPaths


@dataclass
class Burst:
    """An event: one indexer run of the library worker over a settled burst of changes
    (`report.stopped` when a pause or stop cut it short: the rest is done later)."""

    reason: str  # "startup", "changes", "rescan", "folder back"
    report: IndexReport
    scopes: int
    started: float = field(default_factory=time.time)


class WorkerState(StrEnum):
    """What the library worker is doing. A `str`, so it compares with plain names."""

    STARTING = "starting"
    SCANNING = "scanning"  # a whole root
    INDEXING = "indexing"  # changes
    WAITING = "waiting"  # changes seen, not settled yet
    IDLE = "idle"
    PAUSED = "paused"
    STOPPED = "stopped"
