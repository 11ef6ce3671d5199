"""The synthetic demo scenes: deterministic, disjoint splits, honest names and pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from photofind.demo import (
    COLOURS,
    DEFAULT_SIZE,
    SHAPES,
    SPLITS,
    Scene,
    caption_forms,
    global_seed,
    make_scene,
    parse_stem,
    render,
    scene_matches,
    split_of,
    write_library,
)


def test_make_scene_is_deterministic():
    for seed in range(20):
        assert make_scene(seed, "test") == make_scene(seed, "test")
    assert make_scene(5, "train") != make_scene(6, "train")


def test_render_is_deterministic():
    scene = make_scene(3, "demo")
    a = np.asarray(render(scene))
    b = np.asarray(render(make_scene(3, "demo")))
    assert a.shape == (DEFAULT_SIZE[1], DEFAULT_SIZE[0], 3)
    assert np.array_equal(a, b)
    assert render(scene, 96).size == (96, 96)
    assert render(scene, (120, 200)).size == (120, 200)


def test_splits_are_disjoint():
    for (na, a), (nb, b) in itertools.combinations(SPLITS.items(), 2):
        assert a.stop <= b.start or b.stop <= a.start, (na, nb)
    assert {"train", "val", "test", "demo"} <= set(SPLITS)
    # every scene carries its global seed, inside its split's range
    for split in SPLITS:
        scene = make_scene(0, split)
        assert scene.seed == global_seed(0, split) == SPLITS[split].start
        assert split_of(scene.seed) == split
        last = make_scene(len(SPLITS[split]) - 1, split)
        assert split_of(last.seed) == split


def test_scene_seed_out_of_range_and_bad_split():
    with pytest.raises(ValueError):
        make_scene(len(SPLITS["val"]), "val")
    with pytest.raises(ValueError):
        make_scene(-1, "test")
    with pytest.raises(ValueError):
        make_scene(0, "nonsense")


def test_scene_contents_are_valid():
    seen_shapes, seen_colours, seen_counts = set(), set(), set()
    for seed in range(300):
        scene = make_scene(seed, "train")
        assert scene.background in COLOURS
        assert 1 <= len(scene.shapes) <= 2
        seen_counts.add(len(scene.shapes))
        pairs = [(c, s) for c, s, _ in scene.shapes]
        assert len(set(pairs)) == len(pairs)
        for colour, shape, size in scene.shapes:
            assert colour != scene.background
            assert size in ("small", "large")
            seen_shapes.add(shape)
            seen_colours.add(colour)
        for cx, cy, r, _ in scene.layout:  # inside the centre square, so a centre crop keeps it
            assert r < cx < 1 - r and r < cy < 1 - r
    assert seen_shapes == set(SHAPES)
    assert seen_colours == set(COLOURS)
    assert seen_counts == {1, 2}


def test_captions_and_stems():
    one = Scene(shapes=[("red", "circle", "large")], background="blue")
    assert one.caption == "a large red circle on a blue background"
    assert one.filename_stem == "large-red-circle-on-blue"
    two = Scene(shapes=[("green", "star", "small"), ("yellow", "square", "large")],
                background="white")
    assert two.caption == "a green star and a yellow square on a white background"
    assert two.filename_stem == "green-star-and-yellow-square-on-white"
    orange = Scene(shapes=[("orange", "triangle", None)], background="orange")
    assert orange.caption == "an orange triangle on an orange background"


@pytest.mark.parametrize("split", ["train", "test", "demo"])
def test_stems_parse_back_to_captions(split):
    for seed in range(200):
        scene = make_scene(seed, split)
        parsed = parse_stem(scene.filename_stem)
        assert parsed.caption == scene.caption
        assert parsed.background == scene.background
        assert [(c, s) for c, s, _ in parsed.shapes] == [(c, s) for c, s, _ in scene.shapes]
        # with the library's numeric suffix too
        assert parse_stem(f"{scene.filename_stem}-0042").caption == scene.caption


@pytest.mark.parametrize("stem", ["", "holiday-0001", "red-circle", "large-red-circle-on-sky",
                                  "large-red-circle-and-blue-star-on-white"])
def test_parse_stem_rejects_other_names(stem):
    with pytest.raises(ValueError):
        parse_stem(stem)


def test_caption_forms():
    one = Scene(shapes=[("red", "circle", "large")], background="blue")
    forms = caption_forms(one)
    for expected in ["red circle", "a red circle", "large red circle", "red circle on blue",
                     one.caption]:
        assert expected in forms
    two = Scene(shapes=[("green", "star", "small"), ("yellow", "square", "large")],
                background="white")
    forms = caption_forms(two)
    for expected in ["green star", "yellow square", "green star and yellow square",
                     "yellow square on white", two.caption]:
        assert expected in forms
    assert len(forms) == len(set(forms))
    # no form mentions something the scene does not show
    for form in forms:
        assert "red" not in form and "circle" not in form


def test_scene_matches():
    two = Scene(shapes=[("green", "star", "small"), ("yellow", "square", "large")],
                background="white")
    assert scene_matches(two, "green", "star")
    assert scene_matches(two, "yellow", "square", "white")
    assert not scene_matches(two, "yellow", "square", "blue")
    assert not scene_matches(two, "green", "square")
    assert scene_matches(parse_stem("large-red-circle-on-blue-0007"), "red", "circle", "blue")


@pytest.mark.parametrize("seed", range(40))
def test_shapes_are_visible(seed):
    scene = make_scene(seed, "test")
    for size in (DEFAULT_SIZE, 160):
        pixels = np.asarray(render(scene, size), np.int32)
        for i, (colour, _, _) in enumerate(scene.shapes):
            x, y = scene.centre_px(i, size)
            patch = pixels[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)
            # nearer to the shape's colour than to any other colour of the palette
            nearest = min(COLOURS, key=lambda c: np.abs(patch - COLOURS[c]).sum())
            assert nearest == colour, (scene.caption, i, patch)


def test_write_library(tmp_path):
    folder = tmp_path / "lib"
    paths = write_library(folder, 12, seed=3)
    assert len(paths) == 12 and all(p.parent == folder for p in paths)
    assert sorted(folder.iterdir()) == sorted(paths)  # nothing else written
    for i, path in enumerate(paths):
        assert path.suffix == ".jpg" and path.stem.endswith(f"-{i:04d}")
        scene = make_scene(3 + i, "demo")
        assert parse_stem(path.stem).caption == scene.caption
        with Image.open(path) as img:
            assert img.format == "JPEG" and img.size == DEFAULT_SIZE

    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    again = write_library(folder, 12, seed=3)
    assert again == paths
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == before

    # a damaged file is repaired, the others are left alone
    paths[0].write_bytes(b"not a jpeg")
    write_library(folder, 12, seed=3)
    assert paths[0].read_bytes() == before[paths[0]][0]
    assert paths[1].stat().st_mtime_ns == before[paths[1]][1]


def test_write_library_same_everywhere(tmp_path):
    a = write_library(tmp_path / "a", 5, seed=100)
    b = write_library(tmp_path / "b", 5, seed=100)
    assert [p.name for p in a] == [p.name for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
