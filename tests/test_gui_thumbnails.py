"""The Qt-free parts the desktop app stands on: the thumbnail cache, removing a library
folder, and searching with several images at once."""

from __future__ import annotations

import os
import threading

import pytest
from gui_support import seed_onnx_cache
from imagezoo import jpeg_with_orientation, picture, save
from PIL import Image

from photofind.core.errors import NotAnImage
from photofind.core.ingest.writer import Writer
from photofind.core.media.thumbnails import BUCKETS, ThumbnailCache, bucket_for
from photofind.core.model.specs import ModelSpec
from photofind.core.search.searcher import Searcher
from photofind.core.store.datadir import DataDir


def test_buckets():
    assert bucket_for(1) == BUCKETS[0]
    assert bucket_for(129) == 256
    assert bucket_for(10_000) == BUCKETS[-1]


def test_thumbnail_is_upright_small_and_cached(tmp_path):
    photo = jpeg_with_orientation(picture(1, (400, 200)), tmp_path / "lib" / "a.jpg", 6)
    cache = ThumbnailCache(tmp_path / "data" / "thumbnails")
    thumb = cache.get(photo, 200)
    with Image.open(thumb) as img:
        assert img.size == (256, 128)  # upright landscape, longest side = bucket 256
    assert cache.get(photo, 250) == thumb  # same bucket: the same file, not made again
    made = thumb.stat().st_mtime_ns
    assert cache.get(photo, 256).stat().st_mtime_ns == made
    assert cache.get(photo, 100) != thumb  # a smaller bucket is its own file
    assert all(p.suffix == ".jpg" for p in cache.folder.rglob("*") if p.is_file())
    assert not (tmp_path / "lib" / ".a.jpg").exists()
    assert sorted(os.listdir(tmp_path / "lib")) == ["a.jpg"]  # nothing written beside photos


def test_changed_photo_gets_a_new_thumbnail(tmp_path):
    photo = save(picture(1), tmp_path / "a.png")
    cache = ThumbnailCache(tmp_path / "thumbs")
    first = cache.get(photo, 128)
    save(picture(2, (100, 300)), photo)
    os.utime(photo, ns=(1, 1))
    second = cache.get(photo, 128)
    assert second != first
    with Image.open(second) as img:
        assert img.size[1] == 128 and img.size[0] < 128


def test_unreadable_file_raises_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    cache = ThumbnailCache(tmp_path / "thumbs")
    with pytest.raises(NotAnImage):
        cache.get(bad, 128)
    with pytest.raises(OSError):
        cache.get(tmp_path / "missing.jpg", 128)
    assert list(cache.folder.rglob("*")) == [] or not any(p.is_file() for p in cache.folder.rglob("*"))


def test_many_threads_make_the_same_thumbnail_safely(tmp_path):
    photo = save(picture(3, (800, 600)), tmp_path / "a.jpg", quality=90)
    cache = ThumbnailCache(tmp_path / "thumbs")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(photo, 512)))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    with Image.open(results[0]) as img:
        img.load()
        assert img.size == (512, 384)
    assert [p.name for p in cache.folder.rglob("*.tmp")] == []


def test_prune_keeps_the_newest(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    paths = []
    for i in range(4):
        thumb = cache.get(save(picture(i), tmp_path / f"{i}.png"), 128)
        os.utime(thumb, (1000 + i, 1000 + i))
        paths.append(thumb)
    keep = paths[-1].stat().st_size + paths[-2].stat().st_size
    assert cache.prune(keep) == 2
    assert [p.exists() for p in paths] == [False, False, True, True]
    assert cache.size_on_disk() == keep


def test_remove_root_and_search_with_several_images(tmp_path, tiny_model):
    data = DataDir(tmp_path / "data")
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(3):
        save(picture(i), a / f"{i}.png")
        save(picture(10 + i), b / f"{i}.png")
    seed_onnx_cache(data, tiny_model)
    with Writer(data, "test") as writer:
        writer.add_roots([str(a), str(b)])
        writer.load_model(ModelSpec.parse(tiny_model), device="cpu")
        writer.index()
    searcher = Searcher(data, device="cpu")
    one = searcher.search_images([a / "0.png"], 10)
    assert one[0].path == str(a / "0.png") and one[0].score == pytest.approx(1, abs=1e-2)
    both = searcher.search_images([a / "0.png", b / "1.png"], 10)
    assert {both[0].path, both[1].path} == {str(a / "0.png"), str(b / "1.png")}
    searcher.close()
    with Writer(data, "test") as writer:
        assert writer.remove_root(str(b.resolve())) == 3
        assert writer.catalog.roots() == [str(a.resolve())]
    searcher = Searcher(data, device="cpu")
    assert {r.path for r in searcher.search_text("anything", 10)} == {
        str(a / f"{i}.png") for i in range(3)}
    assert len(searcher.vectors) == 3
    searcher.close()
    assert sorted(os.listdir(b)) == ["0.png", "1.png", "2.png"]  # photos never touched
