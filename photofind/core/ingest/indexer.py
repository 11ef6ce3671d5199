"""The indexer: brings the catalog and the vector index in line with the library roots.

    find   → walk each root, compare (size, mtime) with the catalog
    decide → unchanged: nothing; failed before and unchanged: skip; new or changed: prepare
    decode → worker threads read each file once, hash it, and either find a known vector
             with the same content hash (a move or a copy) or have a decoder process
             (decodepool.py) decode it, then preprocess it; a file that crashes or hangs
             the decoder fails alone
    embed  → this thread runs batches through the model while the workers decode ahead
    store  → one transaction per batch (catalog first), then the vector index

This thread is the one writer. Photos that disappeared are removed at the end of the
run, and only when their root is present, so a photo moved between roots is followed.

A run covers whole roots (`photofind index`) or only some *scopes* inside them: files and
folders the file watcher reported (`photofind watch`). A scoped run compares just those
paths with the catalog rows at or below them; photos gone from one scope and found in
another in the same run are moves. With `settle_s` set (the watcher's runs), files
that are still being written are *deferred* instead of read: modified within the last
`settle_s`, changed between the scan and the read, or failing to decode while younger
than `retry_incomplete_s`. The report lists them with the time worth looking again.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from photofind.core.duplicates import fingerprint
from photofind.core.errors import NotAnImage, disk_full, is_disk_full
from photofind.core.ingest.decodepool import DEFAULT_TIMEOUT_S, DecoderPool, DecoderPoolClosed
from photofind.core.ingest.finding import FindAndDecide
from photofind.core.ingest.indexreport import IndexReport, Job, Prepared, Progress, ProgressFn
from photofind.core.ingest.scanner import plan_targets
from photofind.core.media.decode import unexpected
from photofind.core.model.embedder import Embedder
from photofind.core.store import mounts
from photofind.core.store.catalog import Catalog, NewPhoto
from photofind.core.store.mounts import root_online
from photofind.core.store.vectorindex import VectorIndex

__all__ = ["Indexer", "IndexReport", "Progress", "ProgressFn", "plan_targets", "root_online"]


class Indexer(FindAndDecide):
    def __init__(self, catalog: Catalog, vectors: VectorIndex, embedder: Embedder, *,
                 workers: int | None = None, batch_size: int = 32,
                 on_progress: ProgressFn | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 settle_s: float | None = None, retry_incomplete_s: float = 5.0,
                 save_every_s: float | None = None, decode_timeout_s: float | None = None,
                 keep_decoders_s: float = 0.0) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.model = embedder.model_id
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.batch_size = max(1, batch_size)
        self.on_progress = on_progress or (lambda p: None)
        self.should_stop = should_stop or (lambda: False)
        self.settle_s = settle_s
        self.retry_incomplete_s = retry_incomplete_s
        self.save_every_s = save_every_s
        self.last_save = time.monotonic()
        if decode_timeout_s is None:
            decode_timeout_s = _env_seconds("PHOTOFIND_DECODE_TIMEOUT_S", DEFAULT_TIMEOUT_S)
        # decoder processes: started on first use; closed after each run, or (watch, the
        # GUI: keep_decoders_s > 0) kept that long between runs and closed by close()
        self.keep_decoders_s = keep_decoders_s
        self.decoders = DecoderPool(decode_timeout_s, idle_exit_s=keep_decoders_s)

    def close(self) -> None:
        """Stop the decoder processes (they also stop on their own when idle or orphaned)."""
        self.decoders.close()

    # --- the whole run -------------------------------------------------------------

    def run(self, roots: Iterable[str], scopes: Iterable[str] | None = None, *,
            renames: Iterable[tuple[str, str]] = (), save: bool = True) -> IndexReport:
        """Bring the catalog in line with `roots`, or only with `scopes` (paths inside
        them). `renames` are (old, new) paths the file watcher saw renamed: rows follow
        them at the cost of a `stat` when the file there is unchanged. `save=False` leaves
        saving the vector index to the caller (`save_if_due`)."""
        try:
            return self._run(roots, scopes, renames, save)
        except Exception as exc:
            failure = self._write_failure(exc)
            if failure is exc:
                raise
            raise failure from None
        finally:
            if self.keep_decoders_s <= 0:
                self.decoders.close()

    def _run(self, roots: Iterable[str], scopes: Iterable[str] | None,
             renames: Iterable[tuple[str, str]], save: bool) -> IndexReport:
        started = time.perf_counter()
        # every thread of this process (embed, store) and the decoder processes
        cpu_started = time.process_time() + self.decoders.cpu_seconds()
        report = IndexReport()
        timings = {"find": 0.0, "decode": 0.0, "embed": 0.0, "store": 0.0}
        jobs: list[Job] = []
        gone: dict[int, tuple[str, str]] = {}  # id → (path, root) of photos not found
        stale_failures: list[str] = []

        t0 = time.perf_counter()
        roots = list(roots)
        online: dict[str, bool] = {}
        renames = list(renames)
        if renames:
            self._follow_renames(renames, roots, online, report)
        targets = plan_targets(roots, scopes)
        for root, scope in targets:
            if not self._online(root, online):
                if root not in report.missing_roots:
                    report.missing_roots.append(root)
                continue
            if scope == root:
                self.on_progress(Progress("scanning", root=root))
            self._plan(root, scope, jobs, gone, stale_failures, report)
            if report.stopped:
                break
        timings["find"] = time.perf_counter() - t0

        if stale_failures and not report.stopped:
            with self.catalog.db.atomic():
                self.catalog.delete_failures(stale_failures)
        if jobs and not report.stopped:
            reusable = self.catalog.ids_by_hash(self.model)
            self._process(jobs, reusable, gone, report, timings)

        if not report.stopped and gone:
            # a root unplugged (or a drive inside one unmounted) during the run deletes
            # nothing either
            still_online = {r: self._root_online(r) for r in {root for _p, root in gone.values()}}
            offline = {r: mounts.offline_within(self.catalog, r) for r in still_online}
            gone = {i: (path, root) for i, (path, root) in gone.items()
                    if still_online[root] and not mounts.under_any(path, offline[root])}
        if not report.stopped and gone:
            t0 = time.perf_counter()
            with self.catalog.db.atomic():
                self.catalog.delete_photos(gone)
            self.vectors.remove(np.fromiter(gone, dtype=np.uint64, count=len(gone)))
            report.removed = len(gone)
            timings["store"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if save and self.vectors.dirty:
            self.on_progress(Progress("saving"))
            self.save()
        timings["store"] += time.perf_counter() - t0
        report.failed.sort(key=lambda f: f["path"])
        report.seconds = time.perf_counter() - started
        timings["cpu"] = time.process_time() + self.decoders.cpu_seconds() - cpu_started
        report.timings = timings
        self.on_progress(Progress("done", len(jobs), len(jobs)))
        return report

    def save(self) -> None:
        try:
            self.vectors.save(self.catalog)
        except Exception as exc:
            raise self._write_failure(exc) from None
        self.last_save = time.monotonic()

    def remove_root(self, writer, root: str) -> int:
        """Forget a root through `writer` (whose vector index this indexer updates), and
        save the index now, as the one that owns its saves."""
        removed = writer.remove_root(root, save=False)
        if self.vectors.dirty:
            self.save()
        return removed

    def _write_failure(self, exc: Exception) -> Exception:
        """A full or failing disk becomes one clear DiskFull; anything else stays as it is.
        A commit that failed for want of space leaves its transaction open: it is rolled
        back, so nothing of that batch is kept (the vector index only follows commits)."""
        if not is_disk_full(exc):
            return exc
        if self.catalog.conn.in_transaction:
            self.catalog.conn.rollback()
        return disk_full(self.catalog.path.parent, exc)

    def save_if_due(self) -> bool:
        """Save the vector index when it changed and `save_every_s` has passed since the
        last save (readers replay newer catalog rows meanwhile)."""
        if self.vectors.dirty and self.save_every_s is not None \
                and time.monotonic() - self.last_save >= self.save_every_s:
            self.save()
            return True
        return False

    # --- decode, embed, store ----------------------------------------------------------

    def _process(self, jobs: list[Job], reusable: dict[str, int],
                 gone: dict[int, tuple[str, str]], report: IndexReport,
                 timings: dict[str, float]) -> None:
        total = len(jobs)
        if not total:
            return
        self.decoders.prestart(min(self.workers, total))  # they start while the model loads
        self.embedder.image_size  # noqa: B018  # a lazily loaded model loads here, not in a worker
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
                    prepared = self._next_prepared(in_flight[0])
                    if prepared is None:  # told to stop while waiting for a slow file
                        report.stopped = True
                        break
                    in_flight.popleft()
                    timings["decode"] += prepared.seconds
                    batch.append(prepared)
                    if self.should_stop():  # abandon this batch: nothing of it is written
                        report.stopped = True
                        break
                    ready = sum(1 for p in batch if p.tensor is not None)
                    if ready >= self.batch_size or not in_flight:
                        self._flush(batch, gone, report, timings)
                        done += len(batch)
                        batch = []
                        self.on_progress(Progress("indexing", done, total))
                        self.save_if_due()
            finally:
                for future in in_flight:
                    future.cancel()
                if in_flight:  # stopped or failing: interrupt decodes still running
                    self.decoders.close()

    def _next_prepared(self, future: Future[Prepared]) -> Prepared | None:
        """The next prepared file, in order; None when told to stop meanwhile (a file can
        take up to the decode timeout, and stopping must not wait for it)."""
        while True:
            try:
                return future.result(timeout=0.25)
            except TimeoutError:
                if self.should_stop():
                    return None

    def _prepare(self, job: Job, reusable: dict[str, int]) -> Prepared:
        """Runs in a worker thread: read once, hash, then reuse or decode + preprocess."""
        t0 = time.perf_counter()
        result = Prepared(job)
        def wanted(digest: str, size: int) -> bool:
            if self.settle_s is not None and self._changed_since_scan(job, size):
                result.deferred = time.time() + self.settle_s
                return False
            result.hash = digest
            if job.kind == "new" and digest in reusable:
                result.reuse_id = reusable[digest]
                return False
            return True

        try:
            # read once in a decoder process: hashed there; decoded there unless a known
            # photo has the same content (a move or a copy) or the file is still changing
            # (asked first only where the answer may be no: a watched file that may still
            # change, a new file that may be a known photo's copy; else decoded at once)
            ask = self.settle_s is not None or (job.kind == "new" and bool(reusable))
            _digest, _size, decoded = self.decoders.decode_file(
                job.path, self.embedder.image_size, wanted, ask=ask)
            if decoded is not None:
                result.tensor = self.embedder.preprocess(decoded.image)
                result.width, result.height = decoded.width, decoded.height
                result.format, result.taken = decoded.format, decoded.taken
                result.fingerprint = fingerprint.compute(decoded.image)
        except NotAnImage as exc:
            result.error = str(exc)
        except DecoderPoolClosed:  # the run is stopping: this file is looked at next time
            result.deferred = time.time()
        except Exception as exc:  # a decoder bug must fail this file, not the run
            result.error = unexpected(exc)
        if result.error is not None and not os.path.lexists(job.path):
            result.error, result.vanished = None, True
        if result.error is not None and self.settle_s is not None:
            # a file written moments ago may be incomplete: look again once it is older
            now = time.time()
            age = now - job.mtime_ns / 1e9
            if abs(age) < self.retry_incomplete_s:
                result.error = None
                result.deferred = now + self.retry_incomplete_s - max(age, 0.0)
        result.seconds = time.perf_counter() - t0
        return result

    @staticmethod
    def _changed_since_scan(job: Job, size_read: int) -> bool:
        try:
            st = os.stat(job.path)
        except OSError:
            return True
        return not (size_read == st.st_size == job.size and st.st_mtime_ns == job.mtime_ns)

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
                if p.deferred is not None:
                    report.deferred[job.path] = p.deferred
                    continue
                if p.vanished:
                    if job.known_id is not None:
                        gone[job.known_id] = (job.path, job.root)
                    continue
                if p.error is not None:
                    self.catalog.record_failure(job.path, job.root, job.size, job.mtime_ns, p.error)
                    report.failed.append({"path": job.path, "reason": p.error})
                    if job.known_id is not None:  # a cataloged photo that became unreadable
                        gone[job.known_id] = (job.path, job.root)
                    continue
                if p.reuse_id is not None:
                    if p.reuse_id in gone or self._source_missing(p.reuse_id):
                        self.catalog.move_photo(p.reuse_id, job.path, job.root, job.mtime_ns)
                        gone.pop(p.reuse_id, None)
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
                                 p.height, p.taken, p.format, self.model, vector, p.fingerprint)
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

    def _source_missing(self, photo_id: int) -> bool:
        """True when a known photo's file is gone from its (online) root although this run
        did not look there: the other half of a move reported separately, or a root not
        being indexed now. The new file then takes over its row instead of copying it."""
        photo = self.catalog.photos([photo_id]).get(photo_id)
        if photo is None or os.path.lexists(photo.path):
            return False
        return self._root_online(photo.root) \
            and not mounts.under_any(photo.path, mounts.offline_within(self.catalog, photo.root))


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default
