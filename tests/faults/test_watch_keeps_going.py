"""A watcher that does not give up, and readers that never need to write (issue 17,
items 4-5).

`photofind watch` (the LibraryWorker it runs) meets a data disk that fills up, and a
catalog that another program keeps write-locked for longer than SQLite's 10 s busy
timeout: it says so once, keeps watching, and catches up once writing works again.
Searches, find-similar and status work on a data disk that is full or read-only, and a
watcher started on a full disk waits, says why, and starts when space returns.

The data disks are real tmpfs file systems, filled up or remounted read-only (root, as
in CI; skipped with the reason elsewhere).
"""

from __future__ import annotations

import inspect
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from faultkit_attack import fault, mount_tmpfs, need_mounts, remount, umount
from faultkit_crash import prepared_models, seed_models
from faultkit_input import check_data_dir, fill, photofind
from imagezoo import make_library, picture, save
from watching import Library, index_library, wait_for

from photofind.core.ingest.worker import LibraryWorker
from photofind.core.store.datadir import DataDir


class Watched:
    """A LibraryWorker on a library whose data directory lies on a small tmpfs."""

    def __init__(self, tmp_path: Path, tiny_model: str, tmp_path_factory, size_kb: int,
                 **options) -> None:
        self.root = Path(os.path.realpath(tmp_path)) / "Pictures"
        make_library(self.root, count=2)
        self.disk = tmp_path / "disk"
        mount_tmpfs(self.disk, size_kb)
        self.data = self.disk / "data"
        seed_models(self.data, prepared_models(tmp_path_factory, tiny_model))
        index_library(self.data, self.root, tiny_model)
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.bursts: list = []
        self.on_burst = None
        self.on_committed = None  # called right after a batch is committed
        self.options = options

    def start(self, wait: bool = True) -> LibraryWorker:
        def burst(b) -> None:
            self.bursts.append(b)
            if self.on_burst is not None:
                self.on_burst(b)
        def progress(p) -> None:
            if p.stage == "indexing" and p.done and self.on_committed is not None:
                self.on_committed()
        # retry_s only shortens the test (the default is 30 s); older workers lack it
        known = inspect.signature(LibraryWorker).parameters
        options = {k: v for k, v in self.options.items() if k in known}
        self.worker = LibraryWorker(DataDir(self.data), device="cpu", on_note=self.notes.append,
                                    on_error=self.errors.append, on_burst=burst,
                                    on_progress=progress, **options)
        self.worker.start()
        if wait:
            assert self.worker.wait_ready(120)
            wait_for(self.worker.is_idle, timeout=60, what="the startup scan")
        return self.worker

    def close(self) -> None:
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.stop(60)
        umount(self.disk)


def test_watch_keeps_going_when_the_data_disk_fills_up(tmp_path, tiny_model, tmp_path_factory,
                                                        record_property):
    fault(record_property, 4)
    need_mounts()
    w = Watched(tmp_path, tiny_model, tmp_path_factory, 64 * 1024, save_every_s=0.5,
                retry_s=0.5, quiet_s=0.2)
    library = Library(w.data)
    try:
        worker = w.start()
        fillers: list[Path] = []
        # the disk fills up right after a batch is committed, before the vector index is
        # saved: the save meets the full disk (and so do the saves that follow)
        w.on_committed = lambda: None if fillers else fillers.append(fill(w.disk, leave_kb=0))
        first = save(picture(800), w.root / "first.jpg", quality=85)
        wait_for(lambda: fillers and w.errors, timeout=60, what="a write to meet the full disk")
        time.sleep(2.0)  # several retries on the full disk
        assert worker.is_alive(), worker.failure
        second = save(picture(801), w.root / "second.jpg", quality=85)
        time.sleep(2.0)
        assert worker.is_alive(), worker.failure
        assert all("full" in e and "\n" not in e for e in w.errors), w.errors
        # each problem said once, not at each of the retries (one every 0.5 s meanwhile)
        assert len(w.errors) == len(set(w.errors)) <= 4, w.errors

        fillers[0].unlink()  # space again
        for photo in (first, second):
            wait_for(lambda p=photo: library.top(p) == str(p), timeout=60,
                     what=f"{photo.name} searchable once there is space")
        wait_for(lambda: not worker._indexer.vectors.dirty, timeout=30, what="the index saved")
        assert worker.is_alive() and any("works again" in n for n in w.notes)
        worker.stop(60)
        check_data_dir(w.data)  # the catalog and the index agree, the saved file is sound
    finally:
        library.close()
        w.close()


def test_watch_keeps_going_while_another_program_locks_the_catalog(
        tmp_path, tiny_model, tmp_path_factory, record_property):
    fault(record_property, 4)
    need_mounts()
    w = Watched(tmp_path, tiny_model, tmp_path_factory, 256 * 1024, save_every_s=0.5,
                retry_s=1.0, quiet_s=0.2)
    other = sqlite3.connect(w.data / "catalog.db", isolation_level=None, check_same_thread=False)
    library = Library(w.data)
    released = threading.Event()
    try:
        worker = w.start()

        locked: list[bool] = []

        def lock_for_a_while() -> None:  # right after a commit, before the save
            if not locked:
                locked.append(True)
                other.execute("BEGIN IMMEDIATE")  # another program's write transaction
                def release() -> None:
                    time.sleep(25)  # past two busy timeouts: the run's save and the next
                    other.execute("ROLLBACK")
                    released.set()
                threading.Thread(target=release, daemon=True).start()
        w.on_committed = lock_for_a_while
        first = save(picture(810), w.root / "first.jpg", quality=85)
        wait_for(lambda: w.errors, timeout=60, what="a write to meet the locked catalog")
        assert worker.is_alive(), worker.failure
        assert "locked" in w.errors[0] and "\n" not in w.errors[0], w.errors
        wait_for(released.is_set, timeout=60, what="the other program to let go")
        second = save(picture(811), w.root / "second.jpg", quality=85)
        for photo in (first, second):
            wait_for(lambda p=photo: library.top(p) == str(p), timeout=60,
                     what=f"{photo.name} searchable once the catalog is free")
        wait_for(lambda: not worker._indexer.vectors.dirty, timeout=30, what="the index saved")
        assert worker.is_alive()
    finally:
        other.close()
        library.close()
        w.close()


def _readers_work(data: Path, photo: Path) -> None:
    for args in (("search", "red", "--limit", 3), ("similar", photo, "--limit", 3),
                 ("status",)):
        done = photofind(data, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
    # a copy from outside the library (similar leaves a library photo itself out): its
    # best match is the photo itself
    query = Path(tempfile.mkdtemp(prefix="photofind-query-")) / photo.name
    shutil.copyfile(photo, query)
    hit = photofind(data, "similar", query, "--limit", 1, "--json")
    assert hit.returncode == 0 and str(photo) in hit.stdout, hit.stderr


def test_readers_work_on_a_read_only_or_full_data_disk(tmp_path, tiny_model, tmp_path_factory,
                                                       record_property):
    fault(record_property, 5)
    need_mounts()
    w = Watched(tmp_path, tiny_model, tmp_path_factory, 64 * 1024)
    photo = w.root / "2023" / "beach.jpg"
    try:
        assert not (w.data / "catalog.db-shm").exists()  # the writer's clean exit removed it
        remount(w.disk, "ro")
        _readers_work(w.data, photo)
        refused = photofind(w.data, "index")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "read-only" in refused.stderr.lower() or "could not write" in refused.stderr
        remount(w.disk, "rw")
        fill(w.disk, leave_kb=0)
        _readers_work(w.data, photo)
    finally:
        w.close()


def test_watch_started_on_a_full_disk_waits_and_says_why(tmp_path, tiny_model,
                                                         tmp_path_factory, record_property):
    fault(record_property, 5)
    need_mounts()
    w = Watched(tmp_path, tiny_model, tmp_path_factory, 64 * 1024, retry_s=0.5, quiet_s=0.2)
    library = Library(w.data)
    try:
        filler = fill(w.disk, leave_kb=0)
        worker = w.start(wait=False)
        wait_for(lambda: any("waiting to start" in n for n in w.notes), timeout=60,
                 what="the watcher to say why it waits")
        time.sleep(2.0)
        assert worker.is_alive() and worker.failure is None
        assert not worker.wait_ready(0.1)
        waiting = [n for n in w.notes if "waiting to start" in n]
        assert len(waiting) == 1 and "full" in waiting[0], w.notes
        filler.unlink()
        assert worker.wait_ready(60)
        late = save(picture(820), w.root / "late.jpg", quality=85)
        wait_for(lambda: library.top(late) == str(late), timeout=90,
                 what="a photo added once the watcher started")
    finally:
        library.close()
        w.close()
