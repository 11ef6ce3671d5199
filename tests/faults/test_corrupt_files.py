"""Damaged files in the data directory.

The vector index (truncated, emptied, bytes flipped, another dimension, another model's,
holding other photos) is detected when opened — its checksum and model are recorded in
the catalog — readers search correctly at once without writing anything, and the next
writer rebuilds it from the catalog's vectors without embedding anything again.

A damaged catalog is never changed or replaced: every command stops with one line that
says what happened and what to do, and a copy of the damaged file is kept in backups/.
(tests/test_vectorindex.py covers a deleted index file and a model change.)
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import outside_copy, run_photofind
from faultkit_crash import prepared_models, seed_models, small_jpeg, write_atomically

from photofind.core.search.searcher import Searcher
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import STATE_KEY, checksum, new_usearch

PHOTOS = 12


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_model) -> tuple[Path, Path]:
    """A library of real photos and a data directory that indexed it (made once)."""
    from photofind.core.ingest.writer import Writer
    from photofind.core.model.specs import ModelSpec

    base = tmp_path_factory.mktemp("corrupt")
    root, data = base / "Pictures", base / "data"
    for n in range(PHOTOS):
        write_atomically(root / ("2024" if n % 2 else "2023") / f"p{n:02d}.jpg", small_jpeg(n))
    seed_models(data, prepared_models(tmp_path_factory, tiny_model))
    with Writer(DataDir(data), "index") as writer:
        writer.add_roots([str(root)])
        writer.load_model(ModelSpec.parse(tiny_model))
        assert writer.index().added == PHOTOS
    return root, data


@pytest.fixture
def indexed(template, data_dir) -> Path:
    """This test's own copy of the indexed data directory; returns the library root."""
    root, data = template
    shutil.copytree(data, data_dir)
    return root


def catalog_vectors(data_dir: Path) -> tuple[dict, str, int]:
    """(id → (path, vector)), the model id, the dimension — straight from the catalog."""
    conn = sqlite3.connect(data_dir / "catalog.db")
    try:
        rows = conn.execute("SELECT id, path, vector, model FROM photos").fetchall()
        state = json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = ?", (STATE_KEY,)).fetchone()[0])
    finally:
        conn.close()
    vectors = {i: (p, np.frombuffer(v, dtype=np.float16).astype(np.float32))
               for i, p, v, _m in rows}
    return vectors, state["model"], state["dim"]


def set_state(data_dir: Path, **changes) -> None:
    conn = sqlite3.connect(data_dir / "catalog.db", isolation_level=None)
    try:
        state = json.loads(conn.execute(
            "SELECT value FROM meta WHERE key = ?", (STATE_KEY,)).fetchone()[0])
        state.update(changes)
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(state), STATE_KEY))
    finally:
        conn.close()


def index_file(data_dir: Path) -> Path:
    (only,) = data_dir.glob("vectors-*.usearch")
    return only


def write_foreign_index(data_dir: Path, keys, dim: int, seed: int) -> bytes:
    """A valid usearch file holding `keys` with vectors no photo of this model made."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(keys), dim)).astype(np.float32)
    index = new_usearch(dim)
    index.add(np.asarray(keys, dtype=np.uint64), vectors / np.linalg.norm(vectors, axis=1)[:, None])
    data = bytes(index.save())
    index_file(data_dir).write_bytes(data)
    return data


def damage_index(data_dir: Path, damage: str) -> None:
    path = index_file(data_dir)
    data = bytearray(path.read_bytes())
    vectors, model, dim = catalog_vectors(data_dir)
    if damage.startswith("truncated"):
        keep = {"truncated-half": len(data) // 2, "truncated-header": 40,
                "truncated-last-byte": len(data) - 1}[damage]
        path.write_bytes(bytes(data[:keep]))
    elif damage == "zero-length":
        path.write_bytes(b"")
    elif damage.startswith("bit-flip"):
        rng = random.Random(damage)
        middle = len(data) // 2
        for _ in range(8):  # a few random bytes in the middle, like a bad sector
            at = rng.randrange(middle - len(data) // 4, middle + len(data) // 4)
            data[at] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
    elif damage == "wrong-dimension":
        # a file that matches its recorded checksum and count but has another dimension
        written = write_foreign_index(data_dir, list(vectors), dim // 2, 1)
        set_state(data_dir, checksum=checksum(written))
    elif damage == "other-model-file":
        write_foreign_index(data_dir, list(vectors), dim, 2)  # copied over from elsewhere
    elif damage == "other-model-state":
        written = write_foreign_index(data_dir, list(vectors), dim, 3)
        set_state(data_dir, model="local-dir:someone-elses#0123456789abcdef",
                  checksum=checksum(written))
    elif damage == "other-photos":
        # intact and recorded, but holding photos the catalog does not have (and missing some)
        written = write_foreign_index(data_dir, [max(vectors) + 100 + k for k in range(4)], dim, 4)
        set_state(data_dir, checksum=checksum(written), count=4)
    else:  # pragma: no cover
        raise AssertionError(damage)


def exact_top(vectors: dict, query: np.ndarray, k: int) -> list[float]:
    scores = sorted((float(np.dot(v, query)) for _p, v in vectors.values()), reverse=True)
    return scores[:k]


def assert_searches_right(data_dir: Path) -> None:
    """Every photo finds itself first, and the best scores are those of an exact search."""
    vectors, _model, _dim = catalog_vectors(data_dir)
    searcher = Searcher(DataDir(data_dir))
    try:
        for photo_id, (path, vector) in vectors.items():
            results = searcher.search_vector(vector, 5)
            assert results[0].path == path and results[0].score > 0.99
            assert [r.path for r in results] == list(dict.fromkeys(r.path for r in results))
            np.testing.assert_allclose([r.score for r in results], exact_top(vectors, vector, 5),
                                       atol=3e-3, err_msg=f"search for photo {photo_id}")
        rng = np.random.default_rng(0)
        for _ in range(5):
            query = rng.normal(size=len(vector)).astype(np.float32)
            query /= np.linalg.norm(query)
            found = searcher.search_vector(query, len(vectors))
            assert sorted(r.path for r in found) == sorted(p for p, _v in vectors.values())
            np.testing.assert_allclose([r.score for r in found],
                                       exact_top(vectors, query, len(vectors)), atol=3e-3)
    finally:
        searcher.close()


def tree_digest(folder: Path) -> dict[str, str]:
    """The catalog and the index files (a reader's SQLite may add an empty WAL and -shm)."""
    return {p.name: hashlib.blake2b(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())
            if p.name == "catalog.db" or p.name.startswith("vectors-")}


INDEX_DAMAGE = ["truncated-half", "truncated-header", "truncated-last-byte", "zero-length",
                "bit-flip-1", "bit-flip-2", "bit-flip-3", "wrong-dimension", "other-model-file",
                "other-model-state", "other-photos"]


@pytest.mark.parametrize("damage", INDEX_DAMAGE)
def test_damaged_index_file_is_detected_and_rebuilt(cli, indexed, data_dir, damage):
    damage_index(data_dir, damage)
    before = tree_digest(data_dir)

    # a reader (search, similar, status) answers right away, and writes nothing
    assert_searches_right(data_dir)
    photo = sorted(indexed.rglob("*.jpg"))[3]
    hit = cli.json("similar", outside_copy(photo), "--limit", 1)["results"][0]
    assert hit["path"] == str(photo) and hit["score"] > 0.99
    assert len(cli.json("search", "a boat", "--limit", 50)["results"]) == PHOTOS
    assert cli.json("status")["searchable"] == PHOTOS
    assert tree_digest(data_dir) == before, "a reader changed the data directory"

    # the next writer notices, says so, and rebuilds from the catalog: nothing re-embedded
    report = cli.json("index")
    assert "rebuilding the vector index" in cli.err
    assert report["embedded"] == 0 and report["unchanged"] == PHOTOS
    rebuilt = index_file(data_dir)
    catalog = Catalog.open_for_reading(data_dir / "catalog.db")
    try:
        state = json.loads(catalog.get_meta(STATE_KEY))
    finally:
        catalog.close()
    assert state["file"] == rebuilt.name and state["count"] == PHOTOS
    assert checksum(rebuilt.read_bytes()) == state["checksum"]
    assert_searches_right(data_dir)
    cli.json("index")
    assert "rebuilding" not in cli.err  # once is enough


# --- the catalog ---------------------------------------------------------------------------


def photos_pages(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name IN ('photos', 'sqlite_autoindex_photos_1')")]
    finally:
        conn.close()


def damage_catalog(path: Path, damage: str) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    rng = random.Random(damage)
    if damage == "garbage":
        path.write_bytes(rng.randbytes(len(data)))
    elif damage == "truncated":
        path.write_bytes(bytes(data[: 2 * page + 100]))
    elif damage == "header-bit-flip":
        for at in (0, 5, 11, 17, 21):
            data[at] ^= 0x5A
        path.write_bytes(bytes(data))
    elif damage == "photo-pages":  # opens fine; the photos' pages are garbage
        for number in photos_pages(path):
            start = (number - 1) * page
            data[start: start + page] = rng.randbytes(page)
        path.write_bytes(bytes(data))
    else:  # pragma: no cover
        raise AssertionError(damage)


def checkpoint(path: Path) -> None:
    """Fold the WAL into the file, as closing the last connection does."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


CATALOG_DAMAGE = ["garbage", "truncated", "header-bit-flip", "photo-pages"]


@pytest.mark.parametrize("damage", CATALOG_DAMAGE)
def test_damaged_catalog_is_reported_kept_and_never_replaced(
        cli, indexed, data_dir, tmp_path, tiny_model, damage):
    catalog = data_dir / "catalog.db"
    checkpoint(catalog)
    damage_catalog(catalog, damage)
    damaged_bytes = catalog.read_bytes()
    photo = sorted(indexed.rglob("*.jpg"))[0]

    for command in (["status"], ["search", "a cat"], ["similar", photo], ["index"],
                    ["index", indexed], ["watch"]):
        cli(*command, expect=1)
        line = cli.err
        assert line.count("\n") == 1 and "Traceback" not in line, line
        assert line.startswith(f"photofind: error: the catalog {catalog} is damaged"), line
        assert "photofind changed nothing" in line
        assert f"photofind --data-dir {data_dir} index" in line  # a hint that pastes
        assert f"delete catalog.db, catalog.db-wal and catalog.db-shm from {data_dir}" in line
        assert catalog.read_bytes() == damaged_bytes, f"'{command[0]}' changed the catalog"

    copies = sorted((data_dir / "backups").glob("catalog-damaged-*.db"))
    assert len(copies) == 1, "one copy of the damaged catalog, however often it is met"
    assert copies[0].read_bytes() == damaged_bytes
    assert f"kept a copy in {copies[0]}" in cli.err

    if damage == "photo-pages":  # found mid-work: as a separate process too, one line
        done = run_photofind("--data-dir", data_dir, "search", "a dog")
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert "is damaged" in done.stderr and "Traceback" not in done.stderr

    # doing what the message says brings the library back
    for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
        (data_dir / name).unlink(missing_ok=True)
    report = cli.json("index", indexed, "--model", tiny_model)
    assert report["added"] == PHOTOS
    assert cli.json("similar", outside_copy(photo), "--limit", 1)["results"][0]["path"] == str(
        photo)
    assert copies[0].read_bytes() == damaged_bytes  # the copy stays


def test_damaged_catalog_names_the_pre_upgrade_backup(cli, indexed, data_dir):
    backup = data_dir / "backups" / "catalog-before-m002_example-1700000000.db"
    shutil.copyfile(data_dir / "catalog.db", backup)
    catalog = data_dir / "catalog.db"
    checkpoint(catalog)
    damage_catalog(catalog, "garbage")
    cli("status", expect=1)
    assert f"or copy {backup} (made before the last upgrade) to {catalog}" in cli.err


def test_other_database_errors_are_not_called_damage(tmp_path):
    """A catalog that cannot be opened for another reason (here: a folder in its place) is
    not called damaged, and no copy is made."""
    from photofind.core.errors import CatalogCorrupt, PhotofindError
    from photofind.core.store.catalog import is_corrupt

    (tmp_path / "catalog.db").mkdir()
    with pytest.raises(PhotofindError) as raised:
        Catalog.open_for_writing(tmp_path / "catalog.db", tmp_path / "backups")
    assert not isinstance(raised.value, CatalogCorrupt)
    assert "could not open the catalog" in str(raised.value)
    assert not (tmp_path / "backups").exists()
    assert not is_corrupt(sqlite3.OperationalError("database is locked"))
