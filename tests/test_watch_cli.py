"""`photofind watch` as a person runs it: a separate process, stopped by Ctrl-C, SIGTERM or
`kill -9`, with searches from other processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagezoo import make_library, picture, save
from watching import Library, files_on_disk, index_library, jpeg_bytes, wait_for, write_file

from photofind.core.search.status import status
from photofind.core.store.datadir import DataDir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


class WatchProcess:
    def __init__(self, data_dir: Path, log: Path, *args: str) -> None:
        self.log = log
        self._err = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "photofind", "--data-dir", str(data_dir), "watch", *args],
            stdout=subprocess.DEVNULL, stderr=self._err, env={**os.environ},
        )

    def stderr(self) -> str:
        return self.log.read_text()

    def wait_watching(self, timeout: float = 60) -> str:
        return wait_for(lambda: self.proc.poll() is not None or "watching" in self.stderr(),
                        timeout=timeout, what="'photofind watch' to start") and self.stderr()

    def stop(self, sig: int, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._err.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()


@pytest.fixture
def library(tmp_path, tiny_model, data_dir):
    root = tmp_path / "Pictures"
    make_library(root, count=2)
    index_library(data_dir, root, tiny_model)
    return root


def test_watch_needs_a_library(cli):
    cli("watch", expect=1)
    assert f"photofind --data-dir {cli.data_dir} index FOLDER" in cli.err  # pastes as is
    assert cli.err.count("\n") == 1


def test_new_photo_is_searchable_from_another_process_and_sigterm_stops(
        library, data_dir, tmp_path):
    root = library
    watch = WatchProcess(data_dir, tmp_path / "watch.log", "--batch-size", "8")
    lib = Library(data_dir)
    try:
        err = watch.wait_watching()
        assert f"watching {root}" in err and watch.proc.poll() is None
        assert status(DataDir(data_dir))["indexing"] is True  # it holds the writer lock

        new = tmp_path / "incoming.jpg"
        save(picture(4000), new)
        target = root / "2024" / "from-phone.jpg"
        target.write_bytes(new.read_bytes())
        copied = time.monotonic()
        wait_for(lambda: lib.top(target) == str(target), timeout=5,
                 what="the new photo in another process's search results")
        print(f"searchable {time.monotonic() - copied:.2f} s after the copy")
        wait_for(lambda: "1 added" in watch.stderr(), timeout=5, what="the burst line")

        # stop in the middle of a storm: within 2 s, exit status 0
        for i in range(600):
            write_file(root / "storm" / f"S{i:04d}.jpg", jpeg_bytes(5000 + i, (64, 48)))
        wait_for(lambda: any("/storm/" in p for p in lib.paths()), timeout=20,
                 what="the storm to be under way")
        code, seconds = watch.stop(signal.SIGTERM)
        assert code == 0, watch.stderr()
        assert seconds < 2.0, f"took {seconds:.2f} s to stop"
        print(f"stopped {seconds:.2f} s after SIGTERM")
        assert "Traceback" not in watch.stderr()
        assert status(DataDir(data_dir))["indexing"] is False
    finally:
        watch.kill()
        lib.close()


def test_kill_9_during_a_batch_then_a_restart_catches_up(library, data_dir, tmp_path):
    root = library
    watch = WatchProcess(data_dir, tmp_path / "watch1.log", "--batch-size", "4",
                         "--workers", "1")
    lib = Library(data_dir)
    try:
        watch.wait_watching()
        before = len(lib.paths())
        count = 600
        for i in range(count):
            write_file(root / "import" / f"K{i:04d}.jpg", jpeg_bytes(7000 + i, (96, 72)))
        # kill it while it is part-way through: some batches committed, more to come
        wait_for(lambda: len(lib.paths()) > before + 8, timeout=30, what="some batches",
                 interval=0.005)
        watch.proc.send_signal(signal.SIGKILL)
        watch.proc.wait(10)
        indexed = len(lib.paths()) - before
        assert 0 < indexed < count, f"{indexed} of {count} indexed: not killed during the run"
    finally:
        watch.kill()

    assert status(DataDir(data_dir))["indexing"] is False  # the lock died with it
    restarted = WatchProcess(data_dir, tmp_path / "watch2.log")
    try:
        restarted.wait_watching()
        wait_for(lambda: lib.paths() == files_on_disk(root), timeout=60,
                 what="the catalog to match the files on disk")
        code, seconds = restarted.stop(signal.SIGINT)  # Ctrl-C
        assert code == 0 and seconds < 2.0, (code, seconds, restarted.stderr())
    finally:
        restarted.kill()
    assert "caught up" in restarted.stderr()
    assert lib.failures() == {}
    info = status(DataDir(data_dir))
    assert info["photos"] == info["searchable"] == info["index_vectors"] == before + count
    for i in (0, 1, count // 2, count - 1):
        path = root / "import" / f"K{i:04d}.jpg"
        assert lib.top(path) == str(path)
    lib.close()
