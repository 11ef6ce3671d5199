"""The shipped demo model end to end through the CLI: queries with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagezoo import snapshot

from photofind.demo import jpeg_bytes, make_scene, parse_stem, render, scene_matches


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    from photofind.cli import main

    data = tmp_path_factory.mktemp("demo") / "data"
    assert main(["--data-dir", str(data), "demo", "--json"]) == 0
    return data


def run_json(capsys, data: Path, *args: str) -> dict:
    from photofind.cli import main

    capsys.readouterr()
    assert main(["--data-dir", str(data), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def scene_of(path: str):
    return parse_stem(Path(path).stem)


def test_demo_library_lives_in_the_data_dir(demo_data):
    library = demo_data / "demo-library"
    names = sorted(p.name for p in library.iterdir())
    assert len(names) == 300
    assert all(parse_stem(Path(n).stem) for n in names)  # every name spells its caption


def test_red_circle_finds_red_circles(demo_data, capsys):
    results = run_json(capsys, demo_data, "search", "red circle", "--limit", "5")["results"]
    assert len(results) == 5
    for r in results:
        assert scene_matches(scene_of(r["path"]), "red", "circle"), r["path"]


@pytest.mark.parametrize("colour,shape", [("blue", "square"), ("green", "star"),
                                          ("purple", "triangle")])
def test_other_colour_shape_queries(demo_data, capsys, colour, shape):
    results = run_json(capsys, demo_data, "search", f"{colour} {shape}", "--limit", "5")["results"]
    good = sum(scene_matches(scene_of(r["path"]), colour, shape) for r in results)
    assert good >= 4, [Path(r["path"]).name for r in results]


def test_similar_on_a_fresh_yellow_triangle(demo_data, capsys, tmp_path):
    i = 0
    while True:  # the first single-shape yellow triangle among fresh validation scenes
        scene = make_scene(i, "val")
        if len(scene.shapes) == 1 and scene.shapes[0][:2] == ("yellow", "triangle"):
            break
        i += 1
    query = tmp_path / "my-photo.jpg"
    query.write_bytes(jpeg_bytes(render(scene)))
    results = run_json(capsys, demo_data, "similar", str(query), "--limit", "3")["results"]
    for r in results:
        assert scene_matches(scene_of(r["path"]), "yellow", "triangle"), r["path"]


def test_demo_again_is_fast_and_changes_nothing(demo_data, capsys):
    before = snapshot(demo_data / "demo-library")
    again = run_json(capsys, demo_data, "demo")
    assert again["index"]["embedded"] == 0 and again["index"]["unchanged"] == 300
    assert snapshot(demo_data / "demo-library") == before


def test_demo_refuses_a_library_indexed_with_another_model(cli, tmp_path, tiny_model):
    from imagezoo import make_library

    make_library(tmp_path / "Pictures", count=1)
    cli.json("index", tmp_path / "Pictures", "--model", tiny_model)
    cli("demo", expect=1)
    assert "--data-dir" in cli.err and "demo" in cli.err


def test_indexing_your_photos_after_the_demo_warns_about_its_model(cli, tmp_path):
    from imagezoo import make_library

    cli.json("demo", "--count", "5")
    cli("index")  # the demo library alone: nothing to warn about
    assert "demo model" not in cli.err
    make_library(tmp_path / "Pictures", count=1)
    cli("index", tmp_path / "Pictures")
    assert "uses the demo model" in cli.err and "--data-dir" in cli.err
