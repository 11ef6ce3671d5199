"""Helpers for the crash, corruption, two-process and offline tests.

The *zygote* is a long-lived child process that has imported photofind, torch,
open_clip, onnxruntime and usearch once; each `photofind …` command it is asked to run
is a fork of it that runs the real `photofind.cli.main` and is then `kill -9`ed by the
test at a random moment. A fork costs milliseconds where a fresh interpreter costs
seconds of imports, so hundreds of kills fit in minutes — and each is still a real
process dying mid-write, with real SQLite, usearch and image files. (Plain
`python -m photofind` processes are killed as well, by the tests themselves.)

Run as a script, this file *is* the zygote (see `zygote_main`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent

# --- how many kills --------------------------------------------------------------------------


def kill_budget(default: int = 16) -> int:
    """Kills for the crash suite: PHOTOFIND_FAULT_KILLS, or 240 with PHOTOFIND_FAULTS=full,
    else a representative sample for every test run."""
    if os.environ.get("PHOTOFIND_FAULT_KILLS"):
        return max(1, int(os.environ["PHOTOFIND_FAULT_KILLS"]))
    if os.environ.get("PHOTOFIND_FAULTS", "").lower() == "full":
        return 240
    return default


# --- photos ------------------------------------------------------------------------------------


def small_jpeg(seed: int, size: tuple[int, int] = (96, 72)) -> bytes:
    """A distinct small photo (cheap to decode, so many fit in a short run)."""
    from imagezoo import picture

    buf = io.BytesIO()
    picture(seed, size).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """How cameras and sync tools deliver a finished photo: written aside, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, path)


def files_on_disk(root: Path) -> dict[str, str]:
    """path → content hash of every photo file under `root` (what the catalog must hold)."""
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            found[path] = hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()
    return found


# --- a data directory with the model's exports already made ----------------------------------


def seed_models(data_dir: Path, prepared: Path) -> None:
    """Give a fresh data directory the ONNX towers exported once for the session (as any
    library that has indexed before has them), so runs do not spend ~10 s exporting."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(prepared, data_dir / "models", dirs_exist_ok=True)


_PREPARED: dict[str, Path] = {}


def prepared_models(tmp_path_factory, model: str) -> Path:
    """`prepare_models` once per test session and model (shared by the fault modules)."""
    if model not in _PREPARED:
        _PREPARED[model] = prepare_models(tmp_path_factory.mktemp("prepared"), model)
    return _PREPARED[model]


def prepare_models(scratch: Path, model: str) -> Path:
    """Index one photo with `model` into a scratch data directory; returns its models/."""
    from photofind.core.ingest.writer import Writer
    from photofind.core.model.specs import ModelSpec
    from photofind.core.store.datadir import DataDir

    root = scratch / "one"
    write_atomically(root / "one.jpg", small_jpeg(1))
    data = DataDir(scratch / "data")
    with Writer(data, "index") as writer:
        writer.add_roots([str(root)])
        writer.load_model(ModelSpec.parse(model))
        writer.index()
    return data.models


# --- looking at a data directory the way the next process will ------------------------------


def copy_catalog(data_dir: Path, into: Path) -> Path:
    """A copy of catalog.db and its WAL, as the next process would find them. Checking a
    copy keeps the check from recovering (checkpointing) the real WAL itself."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for suffix in ("", "-wal"):
        source = data_dir / f"catalog.db{suffix}"
        if source.exists():
            shutil.copyfile(source, into / source.name)
    return into / "catalog.db"


@dataclass
class Snapshot:
    photos: dict[str, tuple[int, str]]  # path → (id, content hash)
    vectors: dict[int, np.ndarray]  # id → vector
    state: dict | None
    migrations: list[str]
    columns: set[str]


def integrity_ok(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def snapshot(catalog_path: Path) -> Snapshot:
    conn = sqlite3.connect(catalog_path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "photos" not in tables:
            return Snapshot({}, {}, None, [], set())
        photos = {p: (i, h) for i, p, h in conn.execute("SELECT id, path, hash FROM photos")}
        vectors = {i: np.frombuffer(v, dtype=np.float16).astype(np.float32)
                   for i, v in conn.execute("SELECT id, vector FROM photos WHERE vector IS NOT NULL")}
        raw = conn.execute("SELECT value FROM meta WHERE key = 'index_state'").fetchone()
        applied = [r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations ORDER BY id")] \
            if "_sqlite_migrations" in tables else []
        columns = {r[1] for r in conn.execute("PRAGMA table_info(photos)")}
        return Snapshot(photos, vectors, json.loads(raw[0]) if raw else None, applied, columns)
    finally:
        conn.close()


def check_saved_pair(data_dir: Path, snap: Snapshot) -> str:
    """The index file the catalog names exists and matches its checksum (the pair a crash
    must leave intact). Returns what was found: "saved", "none"."""
    from photofind.core.store.vectorindex import checksum

    if snap.state is None:
        return "none"
    named = data_dir / snap.state["file"]
    assert named.is_file(), f"the catalog names {named.name}, which is missing"
    assert checksum(named.read_bytes()) == snap.state["checksum"], f"{named.name} is damaged"
    return "saved"


def reader_view(data_dir: Path, catalog_path: Path, model_id: str, dim: int) -> set[int]:
    """The ids a reader opening the library now would search (the saved index plus the
    catalog rows committed after it; an unusable index is rebuilt in memory)."""
    from photofind.core.store.catalog import Catalog
    from photofind.core.store.vectorindex import VectorIndex

    catalog = Catalog(sqlite3.connect(catalog_path, check_same_thread=False), catalog_path)
    try:
        vi = VectorIndex.open_for_reading(data_dir, catalog, model_id, dim)
        keys = [int(k) for k in np.asarray(vi.index.keys)]
        assert len(keys) == len(set(keys))
        return set(keys)
    finally:
        catalog.close()


# --- the zygote ------------------------------------------------------------------------------


class Zygote:
    """Forks `photofind` commands from a process that has done its imports already."""

    def __init__(self, log_dir: Path, env: dict | None = None) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=open(log_dir / "zygote.log", "w"), cwd=REPO,
            env={**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
                [str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")])},
        )
        assert self._read(120) == {"ready": True}
        self.count = 0

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"the zygote said nothing for {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the zygote died: " + (self.log_dir / "zygote.log").read_text())
        return json.loads(line)

    def start(self, *argv: str, slow_fsync: float = 0.0, migration: float | None = None
              ) -> tuple[int, Path]:
        """Fork `photofind ARGV…`; returns (pid, log file). `slow_fsync`: each Python-level
        fsync (the vector index's save) takes up to that many seconds, like a slow disk,
        so kills land inside saves. `migration`: register a new schema migration (a future
        photofind's) that takes that long inside its transaction."""
        self.count += 1
        log = self.log_dir / f"run-{self.count}.log"
        request = {"argv": [str(a) for a in argv], "log": str(log), "slow_fsync": slow_fsync,
                   "migration": migration}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        return self._read(30)["pid"], log

    def wait(self, pid: int, timeout: float = 300) -> tuple[int, float]:
        """The child's end: (its exit code or -signal, seconds it ran)."""
        answer = self._read(timeout)
        assert answer["pid"] == pid
        return answer["status"], answer["seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def kill_now(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # finished and reaped already: it was not killed


def _child(request: dict) -> None:  # pragma: no cover - runs in the forked child
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
    slow = float(request.get("slow_fsync") or 0.0)
    if slow:
        import random

        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            time.sleep(random.uniform(0, slow))
            real_fsync(fd)

        os.fsync = fsync
    if request.get("migration") is not None:
        from photofind.core.store import catalog as catalog_module

        seconds = float(request["migration"])

        @catalog_module.migrations(name="m900_fault_test_rating")
        def add_rating(db):
            print("photofind-test: migrating", file=sys.stderr, flush=True)
            db.execute("ALTER TABLE photos ADD COLUMN rating INTEGER")
            db.execute("UPDATE photos SET rating = id % 5")
            time.sleep(seconds)  # a big catalog takes a while
            db.execute("CREATE INDEX photos_rating ON photos(rating)")

    from photofind.cli import main

    try:
        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def zygote_main() -> None:  # pragma: no cover - runs in the zygote process
    # the same import order as photofind itself (onnxruntime before usearch)
    import onnxruntime  # noqa: F401
    import open_clip  # noqa: F401
    import torch  # noqa: F401

    import photofind.cli  # noqa: F401
    import photofind.core.ingest.worker  # noqa: F401
    import photofind.core.ingest.writer  # noqa: F401
    import photofind.core.search.searcher  # noqa: F401
    import photofind.progress  # noqa: F401

    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        out.write(json.dumps({"pid": pid, "status": code,
                              "seconds": time.monotonic() - started}) + "\n")
        out.flush()


if __name__ == "__main__":
    zygote_main()
