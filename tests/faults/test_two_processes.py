"""Two processes at once: one writer at a time, and readers that keep working beside it.

A second writer (`index`, `watch`) is refused with one line naming the one that holds the
library. Readers (`search`, `similar`, `status`, and the app's long-lived searcher) keep
answering while a writer indexes a library in another process, and never see a
half-written state: every result is a cataloged photo that exists, scores are cosines,
and a search finds at least every photo committed before it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_photofind
from faultkit_crash import prepared_models, seed_models, small_jpeg, write_atomically
from watching import index_library

from photofind.core.search.searcher import Searcher
from photofind.core.search.status import status
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import VectorIndex

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes")


def make_photos(root: Path, count: int, first: int = 0) -> set[str]:
    for n in range(first, first + count):
        write_atomically(root / f"set-{n % 5}" / f"p{n:04d}.jpg", small_jpeg(n))
    return {str(p) for p in root.rglob("*.jpg")}


def start(data: Path, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "photofind", "--data-dir", str(data), *args],
        stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)


def wait_text(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"the writer ended early: {log.read_text()}"
        assert time.monotonic() < deadline, f"no '{text}' after {timeout} s: {log.read_text()}"
        time.sleep(0.02)


def cataloged_paths(data: Path) -> set[str]:
    catalog = Catalog.open_for_reading(data / "catalog.db")
    if catalog is None:
        return set()
    try:
        return {r[0] for r in catalog.conn.execute("SELECT path FROM photos")}
    finally:
        catalog.close()


@pytest.fixture
def cli_for(capsys):
    """photofind's command line in this process (no start-up time) for a data directory."""
    from conftest import Cli

    return lambda data: Cli(capsys, data)


@pytest.fixture
def setup(tmp_path, tiny_model, tmp_path_factory):
    data = tmp_path / "data"
    seed_models(data, prepared_models(tmp_path_factory, tiny_model))
    return data, tmp_path / "Pictures", tiny_model


def test_a_second_writer_is_refused_while_one_runs(setup, tmp_path, cli_for):
    data, root, model = setup
    make_photos(root, 150)
    log = tmp_path / "index.log"
    writer = start(data, "index", str(root), "--model", model, "--batch-size", "1",
                   "--workers", "1", log=log)
    cli = cli_for(data)
    try:
        wait_text(log, "indexing", writer)
        os.kill(writer.pid, signal.SIGSTOP)  # frozen mid-run, holding the library
        done = run_photofind("--data-dir", data, "index", str(root))  # a process of its own
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        for second in (["index", str(root)], ["index"], ["watch"]):
            cli(*second, expect=1)
        for line in (done.stderr, cli.err):
            assert line.count("\n") == 1 and "Traceback" not in line, line
            assert f"another photofind (pid {writer.pid}, 'photofind index') is updating" in line
            assert "wait for it to finish or stop it, then try again" in line
        assert status(DataDir(data))["indexing"] is True
        assert cli.json("status")["indexing"] is True  # readers are not refused
    finally:
        os.kill(writer.pid, signal.SIGCONT)
        writer.wait(300)
    assert writer.returncode == 0, log.read_text()  # the refused commands disturbed nothing
    assert cli.json("status")["photos"] == 150
    cli.json("index")  # free again


def check_results(results, library: set[str], committed: set[str], what: str) -> None:
    paths = [r.path for r in results]
    assert len(paths) == len(set(paths)), f"{what}: a photo appears twice"
    assert set(paths) <= library, f"{what}: a result that is not in the library"
    missing = committed - set(paths)
    assert not missing, f"{what}: {len(missing)} committed photos were not found"
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True), f"{what}: results out of order"
    assert all(-1.01 <= s <= 1.01 for s in scores), f"{what}: scores are not cosines"


class Readers:
    """What readers see, checked against what the catalog had committed just before."""

    def __init__(self, data: Path, library: set[str]) -> None:
        self.data = data
        self.library = library
        self.rng = np.random.default_rng(7)
        self.lasting = Searcher(DataDir(data))  # like the app's: opened once, refreshed
        self.counts: list[int] = []
        self.midway = 0
        self.saved = 0
        self.before = 0

    @property
    def every(self) -> int:
        return len(self.library) + 10  # a limit above the library's size: every photo

    def check(self) -> None:
        committed = cataloged_paths(self.data)
        info = status(DataDir(self.data))
        assert info["photos"] == info["searchable"], "a photo row without its vector"
        self.saved = info["index_vectors"]
        if self.before < len(committed) < len(self.library):
            self.midway += 1
        # a reader opening the library now: the saved index, whatever the writer is doing
        # to it, plus the rows committed since
        fresh = VectorIndex.open_for_reading(self.data, self.lasting.catalog,
                                             self.lasting.model, self.lasting.vectors.dim)
        query = self.rng.normal(size=fresh.dim).astype(np.float32)
        ids, scores = fresh.search(query / np.linalg.norm(query), self.every)
        assert len(set(ids.tolist())) == len(ids) and np.all(np.abs(scores) <= 1.01)
        assert len(ids) >= len(committed), "a new reader misses committed photos"
        found = self.lasting.search_text("a red boat", self.every)
        check_results(found, self.library, committed, "a long-lived searcher")
        if len(self.counts) % 5 == 0:  # find-similar with a photo being indexed right now
            photo = sorted(self.library)[len(self.counts) % len(self.library)]
            check_results(self.lasting.search_image(photo, self.every), self.library,
                          committed, "find-similar")
        assert not self.counts or len(found) >= self.counts[-1], "results went missing"
        self.counts.append(len(found))

    def close(self) -> None:
        self.lasting.close()


def run_writer_in_slices(data: Path, view: Readers, rng, log: Path, extra_readers: list):
    """One `photofind index` run, let run in short random slices and frozen (SIGSTOP) in
    between, with the readers checked both while it runs and while it is frozen."""
    writer = start(data, "index", "--batch-size", "1", "--workers", "1", log=log)
    try:
        wait_text(log, "indexing", writer)
        os.kill(writer.pid, signal.SIGSTOP)
        extra_readers.extend(start(data, *args, "--json", log=log.with_suffix(f".r{n}"))
                             for n, args in enumerate([["search", "a red boat", "--limit", "900"],
                                                       ["status"]]))
        # until the writer has saved its index with every photo (then it only exits)
        while writer.poll() is None and view.saved < len(view.library):
            os.kill(writer.pid, signal.SIGCONT)
            if len(view.counts) % 4 == 0:
                view.check()  # while it writes
            else:
                time.sleep(float(rng.uniform(0, 0.01)))
            os.kill(writer.pid, signal.SIGSTOP)
            view.check()  # while it is frozen wherever it was: mid-transaction, mid-save
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGCONT)
        writer.wait(300)
    assert writer.returncode == 0, log.read_text()


def test_readers_work_while_another_process_indexes(setup, tmp_path):
    data, root, model = setup
    make_photos(root, 12)
    index_library(data, root, model)
    rng = np.random.default_rng(11)
    view = Readers(data, {str(p) for p in root.rglob("*.jpg")})
    readers: list[subprocess.Popen] = []
    try:
        # a machine busy elsewhere may let the writer finish before the readers look:
        # then another batch of photos arrives, until the readers saw enough of a run
        for attempt in range(4):
            view.before = len(view.library)
            view.library = make_photos(root, 300, first=12 + 300 * attempt)
            run_writer_in_slices(data, view, rng, tmp_path / f"index-{attempt}.log", readers)
            if view.midway >= 5:
                break
    finally:
        view.close()
        outputs = [reader.communicate(timeout=120)[0] for reader in readers]
    print(f"readers checked {len(view.counts)} times, {view.midway} of them mid-run")
    assert view.midway >= 5, "the readers never overlapped the writer's work"
    for reader, out in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, reader.args
        document = json.loads(out)
        for result in document.get("results", []):
            assert result["path"] in view.library and -1.01 <= result["score"] <= 1.01
        if "photos" in document:
            assert 12 <= document["photos"] == document["searchable"] <= len(view.library)
    final = Searcher(DataDir(data))
    try:
        check_results(final.search_text("anything", len(view.library) + 10), view.library,
                      view.library, "after the run")
    finally:
        final.close()
