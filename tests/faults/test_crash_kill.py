"""Crash at any moment: `photofind index` and `photofind watch` are `kill -9`ed at random
points — mid-batch, mid-save, mid-migration — and nothing is ever lost or duplicated.

After every kill: SQLite's integrity check passes, the index file the catalog names is
intact, a reader opening the library searches exactly the photos the catalog holds, the
writer lock is free, and every row's vector is the one its content makes. After the last
kill a rerun completes and the catalog matches the files on disk, one row per file.

Kills: PHOTOFIND_FAULT_KILLS (default 16, a sample for every test run);
PHOTOFIND_FAULTS=full runs 240. PHOTOFIND_FAULT_SEED fixes the random choices.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from faultkit_crash import (
    Zygote,
    check_saved_pair,
    copy_catalog,
    files_on_disk,
    integrity_ok,
    kill_budget,
    kill_now,
    prepared_models,
    reader_view,
    seed_models,
    small_jpeg,
    snapshot,
    write_atomically,
)

from photofind.core.model.specs import ModelSpec
from photofind.core.store.lock import is_held

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kill -9 and fork are POSIX")

KILLS = kill_budget()
SEED = int(os.environ.get("PHOTOFIND_FAULT_SEED", "20261124"))
DIM = 64  # the tiny model's


# how the kills are shared out: migrations and watch get 15 % each, index the rest
MIGRATION_KILLS = WATCH_KILLS = max(1, round(KILLS * 0.15))
INDEX_KILLS = max(1, KILLS - MIGRATION_KILLS - WATCH_KILLS)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_model) -> Path:
    return prepared_models(tmp_path_factory, tiny_model)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote-logs"))
    yield z
    z.close()


@pytest.fixture(scope="module")
def tally():
    """What the kills hit, printed at the end of the module (run pytest with -s to see)."""
    counts: Counter = Counter()
    yield counts
    print(f"\ncrash suite: {sum(v for k, v in counts.items() if k.startswith('killed'))} kills "
          f"({dict(sorted(counts.items()))})")


class Library:
    """A photo folder that changes between runs the way real ones do."""

    def __init__(self, root: Path, rng: random.Random, start: int) -> None:
        self.root = root
        self.rng = rng
        self.next_seed = 1000
        for _ in range(start):
            self.add()

    def files(self) -> list[Path]:
        return sorted(Path(p) for p in files_on_disk(self.root))

    def add(self) -> None:
        folder = self.root / self.rng.choice(["2023", "2024/summer", "2024/winter", "phone",
                                              f"trip-{self.rng.randrange(4)}"])
        self.next_seed += 1
        write_atomically(folder / f"img_{self.next_seed:05d}.jpg", small_jpeg(self.next_seed))

    def change(self, new: int) -> None:
        rng = self.rng
        for _ in range(new):
            self.add()
        files = self.files()
        for path in rng.sample(files, min(len(files), rng.randrange(4))):
            path.unlink()  # deleted
        files = self.files()
        for path in rng.sample(files, min(len(files), rng.randrange(4))):
            target = self.root / rng.choice(["moved", "2023", "phone"]) / f"mv-{path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.rename(path, target)  # moved or renamed
        files = self.files()
        for path in rng.sample(files, min(len(files), rng.randrange(3))):
            target = path.with_name(f"copy-{rng.randrange(10**6)}-{path.name}")
            shutil.copyfile(path, target)  # a byte-identical copy
        if rng.random() < 0.3 and files:
            path = rng.choice(self.files())
            self.next_seed += 1
            write_atomically(path, small_jpeg(self.next_seed))  # edited in place
        while len(self.files()) > 220:
            rng.choice(self.files()).unlink()


class Checker:
    """What the next process will find after a kill, checked on a copy of the catalog."""

    def __init__(self, data: Path, model: str, scratch: Path, tally: Counter) -> None:
        self.data = data
        self.model_id = ModelSpec.parse(model).model_id()
        self.scratch = scratch
        self.tally = tally
        self.vector_of_hash: dict[str, np.ndarray] = {}

    def after_kill(self, what: str) -> None:
        leftovers = {p.name for p in self.data.glob("vectors-*")}
        catalog = copy_catalog(self.data, self.scratch / "check")
        if not catalog.exists():
            self.tally[f"{what}: before the catalog existed"] += 1
            return
        assert integrity_ok(catalog) == "ok", f"after a kill ({what}) the catalog is damaged"
        snap = snapshot(catalog)
        check_saved_pair(self.data, snap)
        named = {snap.state["file"]} if snap.state else set()
        if any(name.endswith(".tmp") for name in leftovers) or leftovers - named:
            self.tally[f"{what}: inside an index save"] += 1
        self.check_rows(snap)
        if snap.photos:
            searched = reader_view(self.data, catalog, self.model_id, DIM)
            assert searched == set(snap.vectors), (
                f"after a kill ({what}) a reader searches {len(searched)} photos, "
                f"the catalog holds {len(snap.vectors)}")
        assert not is_held(self.data / "writer.lock"), "the writer lock outlived its process"

    def check_rows(self, snap) -> None:
        ids = [i for i, _h in snap.photos.values()]
        assert len(ids) == len(set(ids))
        for path, (photo_id, content) in snap.photos.items():
            vector = snap.vectors.get(photo_id)
            assert vector is not None, f"{path} is cataloged without a vector"
            known = self.vector_of_hash.setdefault(content, vector)
            assert float(np.dot(known, vector)) > 0.995 * float(np.dot(known, known)), (
                f"{path} carries a vector that its content does not make")

    def final(self, root: Path) -> Counter:
        catalog = copy_catalog(self.data, self.scratch / "final")
        assert integrity_ok(catalog) == "ok"
        snap = snapshot(catalog)
        disk = files_on_disk(root)
        assert sorted(snap.photos) == sorted(disk), "the catalog and the folder disagree"
        for path, (_id, content) in snap.photos.items():
            assert content == disk[path], f"{path}: the catalog holds older content"
        self.check_rows(snap)
        assert len(snap.vectors) == len(snap.photos) == len(disk)
        assert check_saved_pair(self.data, snap) == "saved"
        assert snap.state["count"] == len(disk)
        assert reader_view(self.data, catalog, self.model_id, DIM) == set(snap.vectors)
        return Counter(disk.values())


def run_to_end(zygote: Zygote, *argv: str) -> str:
    pid, log = zygote.start(*argv)
    status, _seconds = zygote.wait(pid)
    assert status == 0, f"photofind {' '.join(argv)} failed ({status}): {log.read_text()}"
    return log.read_text()


def wait_for_text(log: Path, text: str, pid_alive, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return True
        if not pid_alive():
            return False
        time.sleep(0.01)
    return False


def alive(pid: int):
    def check() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return check


def plain_kill(data: Path, root: Path, model: str, rng: random.Random, log: Path) -> bool:
    """`python -m photofind index`, exactly as a person starts it, killed mid-run."""
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "photofind", "--data-dir", str(data), "index", str(root),
             "--model", model, "--batch-size", "2", "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for_text(log, "indexing", lambda: proc.poll() is None, 120)
            time.sleep(rng.uniform(0, 0.6))
            proc.send_signal(signal.SIGKILL)
            return proc.wait(60) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(60)


def test_index_killed_at_random_moments_loses_nothing(
        zygote, prepared, tiny_model, tmp_path, tally):
    rng = random.Random(SEED)
    data = tmp_path / "data"
    seed_models(data, prepared)
    library = Library(tmp_path / "Pictures", rng, start=40)
    checker = Checker(data, tiny_model, tmp_path, tally)
    args = ("--data-dir", data, "index", library.root, "--model", tiny_model,
            "--batch-size", "2", "--workers", "1")
    wanted, plain_every, plain_left = INDEX_KILLS, 10, max(1, INDEX_KILLS // 10)
    kills, runs = 0, 0
    durations, work = [2.0], [0.5]  # whole runs, and their storing part, when not killed
    while kills < wanted:
        runs += 1
        assert runs < wanted * 6, f"only {kills} of {runs} runs could be killed mid-way"
        library.change(new=rng.randrange(4, 16))
        if runs % plain_every == 0 and plain_left:
            plain_left -= 1
            if plain_kill(data, library.root, tiny_model, rng, tmp_path / f"plain-{runs}.log"):
                kills += 1
                tally["killed: index (python -m photofind)"] += 1
                checker.after_kill("plain index")
            continue
        started = time.monotonic()
        pid, log = zygote.start(*args, slow_fsync=0.08)
        storing = None
        if rng.random() < 0.3:  # anywhere: opening, loading the model, scanning, …
            time.sleep(rng.uniform(0, max(durations[-5:]) * 1.1))
        else:  # while photos are being stored, up to the final save and a bit beyond
            wait_for_text(log, "indexing", alive(pid), 60)
            storing = time.monotonic() - started
            time.sleep(rng.uniform(0, max(work[-5:]) * 1.1))
        kill_now(pid)
        status, seconds = zygote.wait(pid)
        if status == -signal.SIGKILL:
            kills += 1
            tally["killed: index"] += 1
            checker.after_kill("index")
        else:
            assert status == 0, log.read_text()
            durations.append(seconds)
            if storing is not None:
                work.append(max(0.05, seconds - storing))
    run_to_end(zygote, *args)
    again = run_to_end(zygote, *args[:-4], "--json")  # all done: nothing left to embed
    assert '"embedded": 0' in again and '"added": 0' in again
    checker.final(library.root)


def test_migration_killed_at_random_moments_is_all_or_nothing(
        zygote, prepared, tiny_model, tmp_path, tally):
    """A catalog of an older schema, upgraded by a newer photofind that is killed while it
    backs up and migrates: each attempt is applied entirely or not at all."""
    rng = random.Random(SEED + 1)
    data = tmp_path / "data"
    seed_models(data, prepared)
    library = Library(tmp_path / "Pictures", rng, start=30)
    checker = Checker(data, tiny_model, tmp_path, tally)
    args = ("--data-dir", data, "index", library.root, "--model", tiny_model)
    run_to_end(zygote, *args)
    older = tmp_path / "older-version"
    shutil.copytree(data, older)
    before = snapshot(copy_catalog(older, tmp_path / "older-check"))
    kills = 0
    while kills < MIGRATION_KILLS:
        shutil.rmtree(data)
        shutil.copytree(older, data)
        pid, log = zygote.start(*args, migration=rng.uniform(0.05, 0.3))
        if rng.random() < 0.5:
            wait_for_text(log, "migrating", alive(pid), 60)
            time.sleep(rng.uniform(0, 0.3))
        else:
            time.sleep(rng.uniform(0, 1.5))
        kill_now(pid)
        status, _seconds = zygote.wait(pid)
        if status != -signal.SIGKILL:
            assert status == 0, log.read_text()
            continue
        kills += 1
        tally["killed: migration"] += 1
        checker.after_kill("migration")
        snap = snapshot(copy_catalog(data, tmp_path / "check"))
        applied = "m900_fault_test_rating" in snap.migrations
        assert applied == ("rating" in snap.columns), "a migration was applied half-way"
        if not applied and "migrating" in log.read_text():
            tally["migration: inside the migration's transaction"] += 1
        assert snap.photos == before.photos
        for backup in (data / "backups").glob("*.db"):  # (a crash may leave a .part)
            assert integrity_ok(backup) == "ok", f"a half-written backup {backup.name} is kept"
            assert snapshot(backup).photos == before.photos
    pid, log = zygote.start(*args, migration=0.05)
    assert zygote.wait(pid)[0] == 0, log.read_text()
    snap = snapshot(copy_catalog(data, tmp_path / "check"))
    assert "m900_fault_test_rating" in snap.migrations and "rating" in snap.columns
    # one backup per attempt that got that far (a killed one may have left one too)
    backups = list((data / "backups").glob("catalog-before-m900_fault_test_rating-*.db"))
    assert backups and all(snapshot(b).photos == before.photos for b in backups)
    checker.final(library.root)


def test_watch_killed_during_bursts_loses_nothing(zygote, prepared, tiny_model, tmp_path, tally):
    rng = random.Random(SEED + 2)
    data = tmp_path / "data"
    seed_models(data, prepared)
    library = Library(tmp_path / "Pictures", rng, start=30)
    checker = Checker(data, tiny_model, tmp_path, tally)
    run_to_end(zygote, "--data-dir", data, "index", library.root, "--model", tiny_model)
    watch = ("--data-dir", data, "watch", "--batch-size", "2", "--workers", "1")
    kills = 0
    while kills < WATCH_KILLS:
        pid, log = zygote.start(*watch, slow_fsync=0.05)
        assert wait_for_text(log, "watching", alive(pid), 120), log.read_text()
        library.change(new=rng.randrange(4, 16))  # a burst of changes while it watches
        time.sleep(rng.uniform(0, 2.5))
        kill_now(pid)
        status, _seconds = zygote.wait(pid)
        assert status == -signal.SIGKILL, log.read_text()
        kills += 1
        tally["killed: watch"] += 1
        checker.after_kill("watch")
    # a last start catches up with everything, by itself
    pid, log = zygote.start(*watch)
    assert wait_for_text(log, "watching", alive(pid), 120), log.read_text()
    expected = files_on_disk(library.root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        snap = snapshot(copy_catalog(data, tmp_path / "poll"))
        if {p: h for p, (_i, h) in snap.photos.items()} == expected:
            break
        time.sleep(0.2)
    os.kill(pid, signal.SIGTERM)
    assert zygote.wait(pid)[0] == 0, log.read_text()
    checker.final(library.root)
