"""The indexer: brings the catalog and the vector index in line with the library roots.

    find   → walk each root, compare (size, mtime) with the catalog
    decide → unchanged: nothing; failed before and unchanged: skip; new or changed: prepare
    decode → worker threads read each file once, hash it, and either find a known vector
             with the same content hash (a move or a copy) or decode + preprocess it
    embed  → this thread runs batches through the model while the workers decode ahead
    store  → one transaction per batch (catalog first), then the vector index

This thread is the one writer. Photos that disappeared are removed at the end of the
run, and only when their root is present, so a photo moved between roots is followed.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from photofind.core import scanner
from photofind.core.catalog import Catalog, NewPhoto
from photofind.core.decode import content_hash, decode, read_file
from photofind.core.embedder import Embedder
from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.vectorindex import VectorIndex


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
    missing_roots: list[str] = field(default_factory=list)
    stopped: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "removed": self.removed,
            "moved": self.moved, "unchanged": self.unchanged, "failed": self.failed,
            "embedded": self.embedded, "seconds": round(self.seconds, 3),
            "missing_roots": self.missing_roots,
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
    error: str | None = None
    seconds: float = 0.0


ProgressFn = Callable[[Progress], None]


class Indexer:
    def __init__(self, catalog: Catalog, vectors: VectorIndex, embedder: Embedder, *,
                 workers: int | None = None, batch_size: int = 32,
                 on_progress: ProgressFn | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.model = embedder.model_id
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.batch_size = max(1, batch_size)
        self.on_progress = on_progress or (lambda p: None)
        self.should_stop = should_stop or (lambda: False)

    # --- the whole run -------------------------------------------------------------

    def run(self, roots: Iterable[str]) -> IndexReport:
        started = time.perf_counter()
        report = IndexReport()
        timings = {"find": 0.0, "decode": 0.0, "embed": 0.0, "store": 0.0}
        jobs: list[Job] = []
        gone: dict[int, tuple[str, str]] = {}  # id → (path, root) of photos not found
        stale_failures: list[str] = []

        t0 = time.perf_counter()
        for root in roots:
            self.on_progress(Progress("scanning", root=root))
            if not self._root_online(root):
                report.missing_roots.append(root)
                continue
            self._plan_root(root, jobs, gone, stale_failures, report)
        timings["find"] = time.perf_counter() - t0

        if stale_failures:
            with self.catalog.db.atomic():
                self.catalog.delete_failures(stale_failures)
        reusable = self.catalog.ids_by_hash(self.model)
        self._process(jobs, reusable, gone, report, timings)

        if not report.stopped and gone:
            t0 = time.perf_counter()
            with self.catalog.db.atomic():
                self.catalog.delete_photos(gone)
            self.vectors.remove(np.fromiter(gone, dtype=np.uint64, count=len(gone)))
            report.removed = len(gone)
            timings["store"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if self.vectors.dirty:
            self.on_progress(Progress("saving"))
            self.vectors.save(self.catalog)
        timings["store"] += time.perf_counter() - t0
        report.failed.sort(key=lambda f: f["path"])
        report.seconds = time.perf_counter() - started
        report.timings = timings
        self.on_progress(Progress("done", len(jobs), len(jobs)))
        return report

    # --- find and decide ---------------------------------------------------------------

    def _root_online(self, root: str) -> bool:
        """A root is offline when it is missing, or empty while the catalog holds photos
        for it (an unplugged drive's mount point). Offline roots lose nothing."""
        if not os.path.isdir(root):
            return False
        try:
            with os.scandir(root) as it:
                empty = next(it, None) is None
        except OSError:
            return False
        return not (empty and self.catalog.known_under(root))

    def _plan_root(self, root: str, jobs: list[Job], gone: dict[int, tuple[str, str]],
                   stale_failures: list[str], report: IndexReport) -> None:
        known = self.catalog.known_under(root)
        failures = self.catalog.failures_under(root)
        seen: set[str] = set()
        problems: list[scanner.Problem] = []
        try:
            for item in scanner.walk(root):
                if isinstance(item, scanner.Problem):
                    problems.append(item)
                    seen.add(item.path)
                    continue
                seen.add(item.path)
                k = known.get(item.path)
                if k is not None:
                    if k.size == item.size and k.mtime_ns == item.mtime_ns and k.model == self.model:
                        report.unchanged += 1
                    else:
                        jobs.append(Job("changed", item.path, root, item.size, item.mtime_ns, k.id))
                    continue
                failure = failures.get(item.path)
                if failure and failure[0] == item.size and failure[1] == item.mtime_ns:
                    report.failed.append({"path": item.path, "reason": failure[2]})
                    continue
                jobs.append(Job("new", item.path, root, item.size, item.mtime_ns))
        except OSError as exc:
            raise PhotofindError(
                f"could not read library folder {root}: {exc.strerror or exc}"
            ) from None
        for path, k in known.items():
            if path not in seen:
                gone[k.id] = (path, root)
        stale_failures.extend(p for p in failures if p not in seen)
        if problems:
            with self.catalog.db.atomic():
                for problem in problems:
                    self.catalog.record_failure(problem.path, root, None, None, problem.reason)
            report.failed.extend({"path": p.path, "reason": p.reason} for p in problems)

    # --- decode, embed, store ----------------------------------------------------------

    def _process(self, jobs: list[Job], reusable: dict[str, int],
                 gone: dict[int, tuple[str, str]], report: IndexReport,
                 timings: dict[str, float]) -> None:
        total = len(jobs)
        if not total:
            return
        done = 0
        self.on_progress(Progress("indexing", 0, total))
        in_flight: deque[Future[Prepared]] = deque()
        pending = iter(jobs)
        ahead = self.batch_size * 2 + self.workers * 2
        batch: list[Prepared] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="photofind-decode") as pool:
            try:
                while True:
                    while len(in_flight) < ahead:
                        job = next(pending, None)
                        if job is None:
                            break
                        in_flight.append(pool.submit(self._prepare, job, reusable))
                    if not in_flight:
                        break
                    prepared = in_flight.popleft().result()
                    timings["decode"] += prepared.seconds
                    batch.append(prepared)
                    ready = sum(1 for p in batch if p.tensor is not None)
                    if ready >= self.batch_size or not in_flight:
                        self._flush(batch, gone, report, timings)
                        done += len(batch)
                        batch = []
                        self.on_progress(Progress("indexing", done, total))
                        if self.should_stop():
                            report.stopped = True
                            break
                if batch:
                    self._flush(batch, gone, report, timings)
            finally:
                for future in in_flight:
                    future.cancel()

    def _prepare(self, job: Job, reusable: dict[str, int]) -> Prepared:
        """Runs in a worker thread: read once, hash, then reuse or decode + preprocess."""
        t0 = time.perf_counter()
        result = Prepared(job)
        try:
            data = read_file(job.path)
            result.hash = content_hash(data)
            if job.kind == "new" and result.hash in reusable:
                result.reuse_id = reusable[result.hash]
            else:
                decoded = decode(data, self.embedder.image_size)
                result.tensor = self.embedder.preprocess(decoded.image)
                result.width, result.height = decoded.width, decoded.height
                result.format, result.taken = decoded.format, decoded.taken
        except NotAnImage as exc:
            result.error = str(exc)
        except Exception as exc:  # a decoder bug must fail this file, not the run
            result.error = f"unexpected error while decoding ({type(exc).__name__}: {exc})"
        result.seconds = time.perf_counter() - t0
        return result

    def _flush(self, batch: list[Prepared], gone: dict[int, tuple[str, str]],
               report: IndexReport, timings: dict[str, float]) -> None:
        to_embed = [p for p in batch if p.tensor is not None]
        row_of = {id(p): i for i, p in enumerate(to_embed)}
        vectors = None
        if to_embed:
            t0 = time.perf_counter()
            vectors = self.embedder.embed_images([p.tensor for p in to_embed])
            timings["embed"] += time.perf_counter() - t0
            report.embedded += len(to_embed)
        t0 = time.perf_counter()
        changed_ids: list[int] = []
        changed_vectors: list[np.ndarray] = []
        with self.catalog.db.atomic():
            for p in batch:
                job = p.job
                if p.error is not None:
                    self.catalog.record_failure(job.path, job.root, job.size, job.mtime_ns, p.error)
                    report.failed.append({"path": job.path, "reason": p.error})
                    if job.known_id is not None:  # a cataloged photo that became unreadable
                        gone[job.known_id] = (job.path, job.root)
                    continue
                if p.reuse_id is not None:
                    if p.reuse_id in gone:
                        self.catalog.move_photo(p.reuse_id, job.path, job.root, job.mtime_ns)
                        del gone[p.reuse_id]
                        report.moved += 1
                        continue
                    new_id = self.catalog.copy_photo(p.reuse_id, job.path, job.root, job.size,
                                                     job.mtime_ns)
                    changed_ids.append(new_id)
                    changed_vectors.append(self.catalog.vector(new_id))
                    report.added += 1
                    continue
                vector = vectors[row_of[id(p)]]
                photo = NewPhoto(job.path, job.root, job.size, job.mtime_ns, p.hash, p.width,
                                 p.height, p.taken, p.format, self.model, vector)
                if job.known_id is not None:
                    self.catalog.replace_photo(job.known_id, photo)
                    changed_ids.append(job.known_id)
                    report.updated += 1
                else:
                    changed_ids.append(self.catalog.insert_photo(photo))
                    report.added += 1
                changed_vectors.append(vector)
        if changed_ids:
            self.vectors.upsert(np.array(changed_ids, dtype=np.uint64), np.stack(changed_vectors))
        self.vectors.seq = max(self.vectors.seq, self.catalog.max_seq(self.model))
        timings["store"] += time.perf_counter() - t0

