"""The background worker keeps the index current while photos change.

Real watchdog observers on real temporary folders, real image files, the tiny model; each
test asserts what a person would notice: photos appear in (and leave) search results.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time

import pytest
from imagezoo import make_library, picture, save
from watching import Library, files_on_disk, index_library, jpeg_bytes, wait_for, write_file

from photofind.core.ingest.worker import LibraryWorker
from photofind.core.store.datadir import DataDir


class Harness:
    """A LibraryWorker on a library, recording what it reports."""

    def __init__(self, data_dir, root, **options) -> None:
        self.root = root
        self.bursts, self.notes, self.errors = [], [], []
        options.setdefault("poll_roots_s", 0.2)
        self.worker = LibraryWorker(DataDir(data_dir), device="cpu", on_burst=self.bursts.append,
                                    on_note=self.notes.append, on_error=self.errors.append,
                                    **options)
        self.library = Library(data_dir)

    def start(self) -> Harness:
        self.worker.start()
        assert self.worker.wait_ready(60)
        wait_for(lambda: self.bursts, what="the startup reconciliation")
        return self

    def settled(self, timeout: float = 30) -> None:
        """Wait until the worker has processed everything it has seen."""
        wait_for(self.worker.is_idle, timeout=timeout, what="the worker to be idle")

    def total(self, key: str) -> int:
        return sum(getattr(b.report, key) for b in list(self.bursts))

    def failed(self) -> list:
        return [f for b in list(self.bursts) for f in b.report.failed]

    def said(self, word: str) -> list[str]:
        return [n for n in self.notes if word in n]

    def stop(self) -> None:
        assert self.worker.stop(timeout=10)
        self.library.close()


@pytest.fixture
def library(tmp_path, tiny_model, data_dir):
    root = tmp_path / "Pictures"
    files = make_library(root, count=2)
    index_library(data_dir, root, tiny_model)
    return root, files


@pytest.fixture
def watched(library, data_dir):
    harness = Harness(data_dir, library[0]).start()
    yield harness
    harness.stop()
    assert harness.errors == []


@pytest.fixture
def queries(tmp_path):
    """Copies of photos kept outside the library, to search with after the originals go."""
    folder = tmp_path / "queries"
    folder.mkdir()

    def keep(path):
        target = folder / f"{len(list(folder.iterdir()))}-{path.name}"
        shutil.copyfile(path, target)
        return target
    return keep


def test_new_changed_renamed_and_deleted_photos_are_followed(watched, queries):
    root, lib = watched.root, watched.library
    new = save(picture(500), root / "phone" / "IMG_0100.jpg", quality=90)
    wait_for(lambda: lib.top(new) == str(new), what="the new photo in search results")
    watched.settled()
    assert watched.total("embedded") == 1 and watched.total("added") == 1

    save(picture(501), new, quality=90)  # edited in place
    wait_for(lambda: watched.total("updated") == 1, what="the edited photo")
    watched.settled()
    assert watched.total("embedded") == 2
    assert lib.top(new) == str(new)

    renamed = root / "phone" / "renamed.jpg"
    os.rename(new, renamed)
    wait_for(lambda: str(renamed) in lib.paths(), what="the renamed photo")
    watched.settled()
    assert watched.total("moved") == 1 and watched.total("embedded") == 2
    assert str(new) not in lib.paths()
    assert lib.top(renamed) == str(renamed)

    # things that are not photos, or are hidden, change nothing
    (root / "phone" / "notes.txt").write_text("hello")
    save(picture(502), root / "phone" / ".partial.jpg")
    save(picture(503), root / ".thumbnails" / "t.jpg")
    query = queries(renamed)
    renamed.unlink()
    wait_for(lambda: str(renamed) not in lib.paths(), what="the deleted photo to leave")
    watched.settled()
    assert lib.top(query) != str(renamed)
    assert watched.total("embedded") == 2
    assert lib.paths() == files_on_disk(root)


def test_slow_copy_is_embedded_once_after_it_completes(watched):
    root, lib = watched.root, watched.library
    data = jpeg_bytes(600, (1600, 1200), quality=95)
    target = root / "2023" / "big-copy.jpg"
    chunks = [data[i:i + len(data) // 20] for i in range(0, len(data), len(data) // 20)]
    with open(target, "wb") as f:
        for i, chunk in enumerate(chunks):
            f.write(chunk)
            f.flush()
            # a stall longer than the watcher's quiet time, half-way: a naive watcher
            # would read (and fail on, or embed) the half-written file now
            time.sleep(0.9 if i == len(chunks) // 2 else 0.1)
            assert str(target) not in lib.paths(), f"indexed after {i + 1} of {len(chunks)} chunks"
    wait_for(lambda: lib.top(target) == str(target), what="the copied photo")
    watched.settled()
    assert watched.total("embedded") == 1
    (size,) = lib.query("SELECT size FROM photos WHERE path = ?", str(target))[0]
    assert size == len(data)
    assert watched.failed() == [] and lib.failures() == {}


def test_incomplete_file_is_retried_not_recorded_as_failed(library, data_dir):
    root, _files = library
    harness = Harness(data_dir, root, retry_incomplete_s=2.0).start()
    try:
        lib = harness.library
        data = jpeg_bytes(700)
        target = write_file(root / "2023" / "arriving.jpg", data[: len(data) // 2])
        wait_for(lambda: any(str(target) in b.report.deferred for b in harness.bursts),
                 what="the half-written photo to be looked at")
        assert lib.failures() == {} and str(target) not in lib.paths()
        with open(target, "ab") as f:
            f.write(data[len(data) // 2:])
        wait_for(lambda: lib.top(target) == str(target), what="the completed photo")
        harness.settled()
        assert harness.total("embedded") == 1

        # a file that stays broken is recorded once it is old enough, with its reason
        broken = write_file(root / "2023" / "broken.jpg", b"this is not a photo")
        wait_for(lambda: str(broken) in lib.failures(), timeout=10, what="the failure record")
        assert "not a recognised image" in lib.failures()[str(broken)]
    finally:
        harness.stop()


def test_a_burst_of_2000_photos_is_embedded_once_each(watched):
    root, lib = watched.root, watched.library
    count = 2000
    images = [jpeg_bytes(10_000 + i, (64, 48), quality=80) for i in range(count)]
    before = len(lib.paths())
    started = time.monotonic()
    for i, data in enumerate(images):
        # half into a folder that exists, half into folders created by the copy
        folder = root / "more" if i % 2 else root / "import" / f"roll-{i // 250:02d}"
        write_file(folder / f"IMG_{i:05d}.jpg", data)
    wait_for(lambda: len(lib.paths()) == before + count, timeout=60,
             what=f"{count} new photos in the catalog")
    seconds = time.monotonic() - started
    watched.settled()
    assert watched.total("embedded") == count
    assert watched.total("added") == count
    assert watched.failed() == []
    assert len(watched.bursts) < 50, f"{len(watched.bursts)} runs: not batched"
    catalog_searchable = lib.query("SELECT COUNT(*) FROM photos WHERE vector IS NOT NULL")[0][0]
    assert catalog_searchable == before + count
    for i in (0, 1, 999, 1998, 1999):
        folder = root / "more" if i % 2 else root / "import" / f"roll-{i // 250:02d}"
        path = folder / f"IMG_{i:05d}.jpg"
        assert lib.top(path) == str(path)
    print(f"{count} photos in {seconds:.1f} s, {len(watched.bursts)} runs")


def test_folder_moves_within_between_into_and_out_of_roots(watched, tmp_path, queries):
    root, lib = watched.root, watched.library
    second = tmp_path / "Phone"
    phone_photos = [save(picture(800 + i), second / "DCIM" / f"P{i}.jpg") for i in range(3)]
    assert watched.worker.add_root(str(second)).result(timeout=10) == str(second)
    wait_for(lambda: {str(p) for p in phone_photos} <= lib.paths(), what="the added root")
    watched.settled()
    embedded = watched.total("embedded")
    assert embedded == 3

    # within a root: followed, nothing re-embedded
    runs = len(watched.bursts)
    (root / "archive").mkdir()
    # (a rename right after mkdir can beat watchdog to the new folder: then it is reported
    # as a folder deleted and one created, still a move, found by content hash)
    wait_for(lambda: len(watched.bursts) > runs, what="the new folder to be seen")
    os.rename(root / "more", root / "archive" / "more")
    wait_for(lambda: str(root / "archive" / "more" / "photo_000.jpg") in lib.paths(),
             what="the moved folder")
    wait_for(lambda: watched.total("moved") == 2, what="both photos moved")
    watched.settled()
    assert watched.total("embedded") == embedded
    # a rename the watcher saw costs a stat per photo: nothing was read again
    assert [b.report.timings["decode"] for b in watched.bursts if b.report.moved] == [0.0], [
        (b.reason, b.scopes, b.report.to_json()) for b in watched.bursts]

    # between roots: followed too
    os.rename(root / "2023", second / "2023")
    wait_for(lambda: str(second / "2023" / "beach.jpg") in lib.paths(), what="moved between roots")
    wait_for(lambda: not any(p.startswith(str(root / "2023")) for p in lib.paths()),
             what="the old paths to go")
    watched.settled()
    assert watched.total("embedded") == embedded
    assert lib.top(second / "2023" / "beach.jpg") == str(second / "2023" / "beach.jpg")

    # out of the roots: removed
    query = queries(second / "DCIM" / "P0.jpg")
    outside = tmp_path / "Desktop"
    outside.mkdir()
    os.rename(second / "DCIM", outside / "DCIM")
    wait_for(lambda: not any("/DCIM/" in p for p in lib.paths()), what="the folder moved out")
    assert lib.top(query) != str(second / "DCIM" / "P0.jpg")

    # into the roots from outside: indexed
    os.rename(outside / "DCIM", root / "from-desktop")
    wait_for(lambda: str(root / "from-desktop" / "P0.jpg") in lib.paths(), what="moved in")
    assert lib.top(query) == str(root / "from-desktop" / "P0.jpg")

    # a whole folder deleted
    shutil.rmtree(root / "misc")
    wait_for(lambda: not any("/misc/" in p for p in lib.paths()), what="the deleted folder")
    wait_for(lambda: lib.paths() == files_on_disk(root, second), what="catalog == disk")
    assert watched.failed() == []


def test_unplugged_root_keeps_its_photos_and_catches_up_when_back(watched, tmp_path):
    root, lib = watched.root, watched.library
    before = lib.paths()
    away = tmp_path / "unplugged"
    os.rename(root, away)
    wait_for(lambda: watched.said("offline"), what="the offline note")
    assert watched.worker.offline_roots == [str(root)]
    from photofind.core.search.status import status

    assert status(DataDir(lib.data_dir.root))["offline_roots"] == [str(root)]
    # changes while it is away: seen by nobody, and nothing is deleted
    save(picture(900), away / "2024" / "while-away.jpg")
    (away / "2023" / "beach.jpg").unlink()
    time.sleep(1.0)
    assert lib.paths() == before

    os.rename(away, root)
    wait_for(lambda: watched.said("is back"), what="the folder-back note")
    wait_for(lambda: str(root / "2024" / "while-away.jpg") in lib.paths(), what="the catch-up")
    wait_for(lambda: str(root / "2023" / "beach.jpg") not in lib.paths(), what="the removal")
    assert watched.worker.offline_roots == []
    # and it is watched again
    late = save(picture(901), root / "2024" / "after.jpg")
    wait_for(lambda: lib.top(late) == str(late), what="a photo added after the return")


def test_overflow_is_said_once_and_rescans(watched, monkeypatch):
    root, lib = watched.root, watched.library
    # the kernel drops events: simulate it by dropping them on their way to the worker
    monkeypatch.setattr(watched.worker.scopes, "add", lambda *a, **k: None)
    lost = [save(picture(950 + i), root / "lost" / f"L{i}.jpg") for i in range(3)]
    time.sleep(1.0)
    assert not {str(p) for p in lost} & lib.paths()
    monkeypatch.undo()

    def overflow():
        """What watchdog does when the kernel reports IN_Q_OVERFLOW."""
        observer = getattr(watched.worker._watcher, "_observer", None)
        inotify = getattr(observer, "_inotify_fd", None)
        if inotify is not None and hasattr(inotify, "handle_event"):
            from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

            inotify.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        else:  # other platforms: watchdog's log line is what the worker hears
            logging.getLogger("watchdog.observers.inotify_c").warning(
                "Inotify queue overflowed; filesystem events were lost")

    overflow()
    wait_for(lambda: {str(p) for p in lost} <= lib.paths(), what="the rescan to find them")
    rescans = sum(b.reason == "rescan" for b in watched.bursts)
    overflow()
    wait_for(lambda: sum(b.reason == "rescan" for b in watched.bursts) > rescans,
             what="a second rescan")
    assert len(watched.said("overflow")) == 1
    # and watching still works afterwards
    late = save(picture(960), root / "lost" / "late.jpg")
    wait_for(lambda: lib.top(late) == str(late), what="a photo added after the overflow")


@pytest.mark.parametrize("cause", ["watch limit", "network share"])
def test_unwatchable_roots_fall_back_to_periodic_rescans(library, data_dir, monkeypatch, cause):
    from photofind.core.ingest import liveroots, watcher

    if cause == "watch limit":
        def no_more_watches(self, root):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        monkeypatch.setattr(watcher.Watcher, "watch", no_more_watches)
        said = "limit"
    else:
        monkeypatch.setattr(liveroots, "needs_polling", lambda path: True)
        said = "network folder"
    root, _files = library
    harness = Harness(data_dir, root, rescan_every_s=0.5).start()
    try:
        assert len(harness.said(said)) == 1
        new = save(picture(970), root / "2024" / "polled.jpg")
        wait_for(lambda: harness.library.top(new) == str(new), what="the periodic rescan")
        assert len(harness.said(said)) == 1
    finally:
        harness.stop()
    assert harness.errors == []


def test_network_shares_are_recognised(tmp_path):
    from photofind.core.ingest.watcher import filesystem_type, needs_polling

    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        "nas:/volume1/photos /mnt/nas nfs4 rw,relatime 0 0\n"
        "//server/share /media/My\\040Share cifs rw 0 0\n"
        "/dev/sdb1 /mnt/nas/usb vfat rw 0 0\n")
    assert needs_polling("/mnt/nas/2024", str(mounts))
    assert needs_polling("/media/My Share/Photos", str(mounts))
    assert not needs_polling("/mnt/nas/usb/DCIM", str(mounts))  # the innermost mount wins
    assert not needs_polling("/home/me/Pictures", str(mounts))
    assert filesystem_type("/home/me", str(mounts)) == "ext4"
    assert filesystem_type("/x", str(tmp_path / "missing")) is None


def test_pause_resume_and_roots_added_and_removed_while_running(watched, tmp_path):
    root, lib, worker = watched.root, watched.library, watched.worker
    # paused in the middle of a storm: nothing more is written until resumed, then the
    # rest is indexed, each photo embedded once
    for i in range(300):
        write_file(root / "storm" / f"S{i:03d}.jpg", jpeg_bytes(3000 + i, (64, 48)))
    wait_for(lambda: any("/storm/" in p for p in lib.paths()), what="the storm under way")
    worker.pause()
    wait_for(lambda: worker.state == "paused", what="paused")
    frozen = lib.paths()
    time.sleep(0.5)
    assert lib.paths() == frozen
    worker.resume()
    wait_for(lambda: len([p for p in lib.paths() if "/storm/" in p]) == 300, what="the rest")
    watched.settled()
    assert watched.total("embedded") == 300

    worker.pause()
    wait_for(lambda: worker.state == "paused", what="paused")
    new = save(picture(980), root / "2024" / "during-pause.jpg")
    time.sleep(1.0)
    assert str(new) not in lib.paths()
    worker.resume()
    wait_for(lambda: lib.top(new) == str(new), what="the photo after resume")

    other = tmp_path / "Scans"
    scans = [save(picture(990 + i), other / f"scan{i}.png") for i in range(2)]
    assert worker.add_root(str(other)).result(timeout=10) == str(other)
    wait_for(lambda: {str(s) for s in scans} <= lib.paths(), what="the added root's photos")
    assert str(other) in worker.roots
    assert worker.remove_root(str(other)).result(timeout=10) == 2
    assert not {str(s) for s in scans} & lib.paths()
    assert lib.top(scans[0]) != str(scans[0])
    # no longer watched: a new file there changes nothing
    save(picture(999), other / "later.png")
    time.sleep(1.0)
    assert not any(p.startswith(str(other)) for p in lib.paths())


def test_searches_see_photos_while_the_startup_scan_runs(library, data_dir):
    """Search works during the reconciliation: committed batches are visible at once."""
    root, _files = library
    for i in range(40):
        write_file(root / "new" / f"N{i:03d}.jpg", jpeg_bytes(1200 + i, (64, 48)))
    first_batch, go_on = threading.Event(), threading.Event()

    def on_progress(progress):
        if progress.stage == "indexing" and progress.done and not first_batch.is_set():
            first_batch.set()
            go_on.wait(30)  # hold the worker right after its first committed batch

    harness = Harness(data_dir, root, batch_size=8, on_progress=on_progress)
    harness.worker.start()
    try:
        assert first_batch.wait(60)
        lib = harness.library
        indexed = [p for p in lib.paths() if "/new/" in p]
        assert 0 < len(indexed) < 40
        assert lib.top(indexed[0]) == indexed[0]  # another reader finds it already
        go_on.set()
        wait_for(lambda: len([p for p in lib.paths() if "/new/" in p]) == 40, what="the rest")
    finally:
        go_on.set()
        harness.stop()


def test_second_writer_is_refused_while_watching(watched, cli):
    cli("index", expect=1)
    assert "photofind watch" in cli.err


def test_dirty_scopes_coalesce_and_settle():
    from photofind.core.ingest.watcher import DirtyScopes

    scopes = DirtyScopes(quiet_s=0.2, max_wait_s=0.6)
    scopes.add("/r/a/1.jpg")
    scopes.add("/r/a/2.jpg")
    scopes.add("/r/a", folder=True)  # absorbs the files below it
    scopes.add("/r/a/3.jpg")  # covered by the folder
    scopes.add("/r/b.jpg")
    assert len(scopes) == 2 and scopes.take_due() == []
    assert sorted(wait_for(scopes.take_due, timeout=2)) == ["/r/a", "/r/b.jpg"]

    # a path that keeps changing is still looked at after max_wait_s
    started = time.monotonic()
    taken: list[str] = []
    while not taken:
        scopes.add("/r/busy.jpg")
        time.sleep(0.05)
        taken = scopes.take_due()
    assert taken == ["/r/busy.jpg"] and 0.5 < time.monotonic() - started < 1.5

    # a deferral never delays a path an event already asked for
    scopes.add("/r/c.jpg")
    scopes.defer("/r/c.jpg", time.monotonic() + 60)
    assert wait_for(scopes.take_due, timeout=2) == ["/r/c.jpg"]
