"""The vector index agrees with the catalog, or is rebuilt from it; readers catch up."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from imagezoo import make_library, picture

from photofind.core.ingest.writer import Writer
from photofind.core.model.specs import ModelSpec
from photofind.core.search.searcher import Searcher
from photofind.core.store.catalog import NewPhoto
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import STATE_KEY


@pytest.fixture
def indexed(tmp_path, tiny_model):
    root = tmp_path / "Pictures"
    files = make_library(root, count=2)
    data = DataDir(tmp_path / "data")
    notes: list[str] = []
    with Writer(data, "index", notify=notes.append) as writer:
        writer.add_roots([str(root)])
        writer.load_model(ModelSpec.parse(tiny_model))
        writer.index()
    return data, files, tiny_model


def reopen(data: DataDir, model: str) -> list[str]:
    notes: list[str] = []
    with Writer(data, "index", notify=notes.append) as writer:
        writer.load_model(ModelSpec.parse(model))
    return notes


def add_late_row(writer: Writer, model_id: str, vector: np.ndarray) -> None:
    """A photo row committed to the catalog (the index is not saved: like a crash)."""
    writer.catalog.insert_photo(NewPhoto(
        "/elsewhere/late.png", "/elsewhere", 1, 1, "h", 1, 1, None, "PNG", model_id, vector))


def test_reader_sees_rows_committed_after_the_last_save(indexed):
    data, files, model = indexed
    with Writer(data, "index") as writer:
        embedder = writer.load_model(ModelSpec.parse(model))
        vector = writer.catalog.vector(writer.catalog.photo_by_path(str(files["png"])).id)
        with writer.catalog.db.atomic():  # committed, but the index is never saved (a crash)
            add_late_row(writer, embedder.model_id, vector)
    with closing(Searcher(data)) as searcher:
        paths = [r.path for r in searcher.search_image(files["png"], 2)]
    assert set(paths) == {str(files["png"]), "/elsewhere/late.png"}
    assert reopen(data, model) == []  # the writer catches up without a rebuild


def test_a_reader_maps_the_saved_file_and_follows_the_writer_without_changing_it(indexed):
    """Readers map the saved index (a million photos open in ~0.1 s) and trust it without
    a checksum while it is the very file the writer saved. Rows committed and photos
    deleted after that save still show up, or no longer do, in a long-lived reader."""
    data, files, model = indexed
    (index_file,) = data.root.glob("vectors-*.usearch")
    saved = index_file.read_bytes()
    with closing(Searcher(data)) as searcher:
        assert searcher.vectors.mapped
        assert searcher.search_image(files["png"], 1)[0].path == str(files["png"])
        assert searcher.vectors.mapped  # nothing changed: still the mapped file
        with Writer(data, "index") as writer:  # commits, never saves the index (a crash)
            embedder = writer.load_model(ModelSpec.parse(model))
            png = writer.catalog.photo_by_path(str(files["png"]))
            vector = writer.catalog.vector(png.id)
            with writer.catalog.db.atomic():
                add_late_row(writer, embedder.model_id, vector)
                writer.catalog.delete_photos([png.id])
            paths = [r.path for r in searcher.search_image(files["png"], 2)]
    assert paths[0] == "/elsewhere/late.png" and str(files["png"]) not in paths
    assert index_file.read_bytes() == saved  # the reader worked on a copy in memory


def test_a_reader_outlives_the_file_it_mapped(indexed):
    """The app's reader stays open for hours while the writer saves new index files and
    deletes the old ones, the one the reader mapped included."""
    data, files, _model = indexed
    (mapped_file,) = data.root.glob("vectors-*.usearch")
    with closing(Searcher(data)) as searcher:
        assert searcher.vectors.mapped
        root = files["png"].parent
        late = picture(7, (320, 240))
        late.save(root / "late.jpg", quality=90)
        with Writer(data, "index") as writer:
            writer.index()
        assert not mapped_file.exists()  # replaced by the writer's save
        top = searcher.search_image(root / "late.jpg", 1)[0]
        assert top.path == str(root / "late.jpg") and top.score > 0.99
        top = searcher.search_image(files["jpeg"], 1)[0]
        assert top.path == str(files["jpeg"]) and top.score > 0.99


def test_a_save_never_replaces_the_file_a_reader_maps(indexed):
    """Removing photos saves the index at the same catalog seq, from the same process (the
    app's writer and reader share one): the save goes to a new file, so the reader's map
    is never replaced under it (on Windows the replace would fail outright)."""
    data, files, model = indexed
    (first,) = data.root.glob("vectors-*.usearch")
    with closing(Searcher(data)) as searcher:
        assert searcher.vectors.mapped
        with Writer(data, "index") as writer:
            writer.load_model(ModelSpec.parse(model))
            png = writer.catalog.photo_by_path(str(files["png"]))
            with writer.catalog.db.atomic():
                writer.catalog.delete_photos([png.id])
            writer.vectors.remove(np.array([png.id], dtype=np.uint64))
            writer.vectors.save(writer.catalog)
            state = json.loads(writer.catalog.get_meta(STATE_KEY))
        assert state["file"] != first.name and state["count"] == len(files) - 1
        assert [p.name for p in data.root.glob("vectors-*.usearch")] == [state["file"]]
        paths = [r.path for r in searcher.search_image(files["png"], len(files))]
        assert str(files["png"]) not in paths and len(paths) == len(files) - 1


def test_readers_skip_the_checksum_only_of_the_file_the_writer_saved(indexed, monkeypatch,
                                                                     tmp_path):
    """Reading a million photos' index through the checksum took 0.9 s of a 2.2 s search.
    A reader skips it while the file is the one the writer saved; a copied data directory
    is checked until its next writer has verified it."""
    import shutil

    from photofind.core.store import vectorindex

    data, files, model = indexed
    checked: list[Path] = []
    real = vectorindex.file_checksum
    monkeypatch.setattr(vectorindex, "file_checksum", lambda path: checked.append(path) or real(path))

    def search(where: DataDir) -> str:
        with closing(Searcher(where)) as searcher:
            return searcher.search_image(files["jpeg"], 1)[0].path

    assert search(data) == str(files["jpeg"]) and checked == []
    copy = DataDir(tmp_path / "copied")
    shutil.copytree(data.root, copy.root)  # a backup restored, a new laptop
    assert search(copy) == str(files["jpeg"]) and len(checked) == 1
    assert reopen(copy, model) == [] and len(checked) == 2  # the writer always checks
    assert search(copy) == str(files["jpeg"]) and len(checked) == 2


def test_a_reader_checks_a_file_that_changed_since_the_save(indexed):
    """Damage that keeps the file's size and even its modification time (a sync tool, a
    bad copy) changes its ctime: the reader checks the checksum and does not trust it."""
    import os

    data, files, _model = indexed
    (index_file,) = data.root.glob("vectors-*.usearch")
    st = index_file.stat()
    data_bytes = bytearray(index_file.read_bytes())
    for i in range(len(data_bytes) - 64, len(data_bytes)):  # the last vectors' bytes
        data_bytes[i] ^= 0x5A
    index_file.write_bytes(bytes(data_bytes))
    os.utime(index_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert index_file.stat().st_size == st.st_size
    with closing(Searcher(data)) as searcher:
        assert not searcher.vectors.mapped  # built from the catalog instead
        for kind in ("png", "jpeg"):
            top = searcher.search_image(files[kind], 1)[0]
            assert top.path == str(files[kind]) and top.score > 0.99


@pytest.mark.parametrize("damage", ["delete", "truncate", "zero", "other-model"])
def test_damaged_index_is_rebuilt_and_search_works(indexed, damage, other_model):
    data, files, model = indexed
    (index_file,) = data.root.glob("vectors-*.usearch")
    if damage == "delete":
        index_file.unlink()
    elif damage == "truncate":
        index_file.write_bytes(index_file.read_bytes()[:100])
    elif damage == "zero":
        index_file.write_bytes(b"")
    else:
        reopen(data, other_model)  # the index now belongs to another model
        reopen(data, model)
    notes = reopen(data, model)
    if damage != "other-model":
        assert any("rebuilding the vector index" in n for n in notes), notes
    searcher = Searcher(data)
    try:
        top = searcher.search_image(files["jpeg"], 1)[0]
    finally:
        searcher.close()
    assert top.path == str(files["jpeg"]) and top.score > 0.99
    assert len(list(data.root.glob("vectors-*"))) == 1


def test_leftover_files_from_a_crashed_save_are_cleaned(indexed):
    data, _files, model = indexed
    (data.root / "vectors-999-1.usearch.tmp").write_bytes(b"half a save")
    (data.root / "vectors-998-1.usearch").write_bytes(b"never recorded")
    reopen(data, model)
    assert len(list(data.root.glob("vectors-*"))) == 1


def test_index_state_records_model_count_and_checksum(indexed):
    data, files, model = indexed
    with Writer(data, "index") as writer:
        state = json.loads(writer.catalog.get_meta(STATE_KEY))
        assert state["count"] == len(files)
        assert state["model"] == ModelSpec.parse(model).model_id()
        assert len(state["checksum"]) == 32
        ids = writer.catalog.ids_for_model(state["model"])
    assert np.all(ids > 0)


def test_schema_migration_backs_up_first(indexed):
    from photofind.core.store import catalog as catalog_module

    data, _files, _model = indexed

    @catalog_module.migrations(name="m999_test_only")
    def add_column(db):
        db.execute("ALTER TABLE photos ADD COLUMN rating INTEGER")

    try:
        with Writer(data, "index") as writer:
            assert "rating" in writer.catalog.db["photos"].columns_dict
        backups = list(data.backups.glob("catalog-before-m999_test_only-*.db"))
        assert len(backups) == 1
    finally:
        catalog_module.migrations._migrations.pop()


def test_large_libraries_search_the_graph_and_still_find_the_nearest(tmp_path, monkeypatch):
    """Past the exact-search size, searches go through the saved HNSW graph (with its
    breadth restored on load) and still return what an exact search would, near enough."""
    from photofind.core.store import vectorindex
    from photofind.core.store.catalog import Catalog

    monkeypatch.setattr(vectorindex, "EXACT_UP_TO", 500)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 64)).astype(np.float32)
    vectors = centers[rng.integers(0, 40, 4000)] + rng.normal(0, 0.3, (4000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data = DataDir(tmp_path / "data").ensure()
    catalog = Catalog.open_for_writing(data.catalog, data.backups)
    with catalog.db.atomic():
        for i, v in enumerate(vectors):
            catalog.insert_photo(NewPhoto(f"/p/{i}.jpg", "/p", 1, 1, f"h{i}", 1, 1, None,
                                          "JPEG", "m", v))
    vectorindex.VectorIndex.rebuild(data.root, catalog, "m", 64)
    searched: list[bool] = []
    real_search = vectorindex.Index.search

    def spy(self, *args, exact=False, **kwargs):
        searched.append(exact)
        return real_search(self, *args, exact=exact, **kwargs)

    monkeypatch.setattr(vectorindex.Index, "search", spy)
    reader = vectorindex.VectorIndex.open_for_reading(data.root, catalog, "m", 64)
    assert reader.index.expansion_search == vectorindex.EXPANSION_SEARCH
    stored = np.stack([catalog.vector(i + 1) for i in range(len(vectors))])  # as saved (f16)
    hits = 0
    for q in rng.choice(len(vectors), 50, replace=False):
        query = vectors[q] + rng.normal(0, 0.05, 64).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = set(np.argsort(-(stored @ query))[:10] + 1)
        ids, scores = reader.search(query, 10)
        assert list(scores) == sorted(scores, reverse=True)
        hits += len(exact & {int(i) for i in ids})
    catalog.close()
    assert searched and not any(searched)  # the graph, not a scan
    assert hits / 500 >= 0.98
