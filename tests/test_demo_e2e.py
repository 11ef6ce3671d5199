"""The shipped demo model end to end through the CLI: queries with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagezoo import snapshot

from photofind.demo import jpeg_bytes, make_scene, parse_stem, render, scene_matches
from photofind.demo.variants import DEMO_COPIES, DEMO_COPY_NUMBER


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
    names = sorted(p.name for p in library.rglob("*.[jp][pn]g"))
    assert len(names) == 300 + len(DEMO_COPIES)  # with copies for the duplicates view
    assert all(parse_stem(Path(n).stem) for n in names)  # every name spells its caption


def test_demo_library_has_dates_in_dated_folders(demo_data, capsys):
    """The timeline, date filters and folder chips have something to show, offline."""
    library = demo_data / "demo-library"
    years = sorted(p.name for p in library.iterdir() if p.is_dir())
    assert len(years) >= 4 and all(y.isdigit() for y in years)
    found = run_json(capsys, demo_data, "search", "after:2023", "before:2024",
                     "--limit", "300")["results"]
    assert 20 <= len(found) < 300
    for r in found:
        assert r["taken_from"] == "exif" and r["taken"].startswith("2023-")
        assert f"/{r['taken'][:4]}/{r['taken'][:7]}/" in r["path"]  # YEAR/YEAR-MONTH
    newest = run_json(capsys, demo_data, "search", "--limit", "300")["results"]
    assert [r["taken"] for r in newest] == sorted((r["taken"] for r in newest), reverse=True)
    months = run_json(capsys, demo_data, "search", f"in:{found[0]['taken'][:7]}")["results"]
    assert months and all(r["taken"].startswith(found[0]["taken"][:7]) for r in months)


COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star"]


def test_good_matches_are_right_and_nonsense_has_none(demo_data, capsys):
    """The good-match cut-off on the demo library, judged by file names: over all 32
    "COLOUR SHAPE" queries the good set's mean precision ≥ 0.85 and mean recall ≥ 0.5;
    nonsense has no good match in ≥ 90% of tries."""
    library = sorted((demo_data / "demo-library").rglob("*.jpg"))
    precisions, recalls = [], []
    for colour in COLOURS:
        for shape in SHAPES:
            relevant = {str(p) for p in library if scene_matches(scene_of(str(p)), colour, shape)}
            good = {r["path"] for r in run_json(
                capsys, demo_data, "search", f"{colour} {shape}", "--good", "--limit", "300"
            )["results"]}
            precisions.append(len(good & relevant) / len(good) if good else 1.0)
            recalls.append(len(good & relevant) / len(relevant))
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    assert precision >= 0.85 and recall >= 0.5, (precision, recall)
    nonsense = ["asdfgh", "qwerty uiop", "zxcvbnm", "lorem ipsum", "xyzzy plugh", "hjkl",
                "mmmmmm", "blorf", "wxq", "ptang zoop"]
    empty = [not run_json(capsys, demo_data, "search", q, "--good")["results"] for q in nonsense]
    assert sum(empty) / len(empty) >= 0.9, dict(zip(nonsense, empty, strict=True))
    # without --good nothing is hidden, only marked
    marked = run_json(capsys, demo_data, "search", "asdfgh", "--limit", "5")["results"]
    assert len(marked) == 5 and not any(r["good"] for r in marked)


def top_precision(capsys, demo_data, relevant: set[str], *query: str) -> float:
    """Of the first k = min(10, len(relevant)) results, the share that is right: what a
    person sees at the top of the grid."""
    k = min(10, len(relevant))
    top = run_json(capsys, demo_data, *query, "--limit", str(k))["results"]
    return sum(r["path"] in relevant for r in top) / k


def test_right_photos_come_first_for_every_colour_shape_query(demo_data, capsys):
    """Issue 19, as a new user tries the demo: for each of the 32 "COLOUR SHAPE" queries
    (9–19 right photos each in the 300), the top min(10, right) results are right 0.92 of
    the time on average and 0.7 for the worst query; for "COLOUR SHAPE on BACKGROUND"
    (1–5 right photos), 0.85 on average."""
    library = sorted((demo_data / "demo-library").rglob("*.jpg"))
    scenes = {str(p): scene_of(str(p)) for p in library}
    plain, on_background = {}, {}
    for colour in COLOURS:
        for shape in SHAPES:
            right = {p for p, s in scenes.items() if scene_matches(s, colour, shape)}
            plain[f"{colour} {shape}"] = top_precision(capsys, demo_data, right, "search",
                                                       f"{colour} {shape}")
            for bg in COLOURS:
                right = {p for p, s in scenes.items() if scene_matches(s, colour, shape, bg)}
                if right:
                    query = f"{colour} {shape} on {bg}"
                    on_background[query] = top_precision(capsys, demo_data, right, "search", query)
    mean = sum(plain.values()) / len(plain)
    worst = min(plain, key=plain.get)
    assert mean >= 0.92 and plain[worst] >= 0.7, (mean, worst, plain[worst])
    mean_bg = sum(on_background.values()) / len(on_background)
    assert mean_bg >= 0.85, (mean_bg, sorted(on_background.items(), key=lambda kv: kv[1])[:5])


def test_similar_finds_photos_of_the_same_coloured_shape(demo_data, capsys, tmp_path):
    """Issue 19: `similar` with 16 fresh photos of one shape each: of the first
    min(10, right) results, 0.85 on average hold a shape of the query's colour and kind."""
    scenes = {str(p): scene_of(str(p)) for p in (demo_data / "demo-library").rglob("*.jpg")}
    precisions, i = [], 0
    while len(precisions) < 16:
        scene = make_scene(i, "val")
        i += 1
        if len(scene.shapes) != 1:
            continue
        colour, shape, _ = scene.shapes[0]
        query = tmp_path / f"{scene.filename_stem}.jpg"
        query.write_bytes(jpeg_bytes(render(scene)))
        right = {p for p, s in scenes.items() if scene_matches(s, colour, shape)}
        precisions.append(top_precision(capsys, demo_data, right, "similar", str(query)))
    assert sum(precisions) / len(precisions) >= 0.85, precisions


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
    assert again["index"]["embedded"] == 0
    assert again["index"]["unchanged"] == 300 + len(DEMO_COPIES)
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


def test_demo_library_has_copies_for_the_duplicates_view(demo_data, capsys):
    """`photofind demo` includes exact copies, re-encodes and look-alikes (issue 21)."""
    found = run_json(capsys, demo_data, "duplicates")
    grouped = {Path(m["path"]).stem.rsplit("-", 1)[1]: g["kind"]
               for g in found["groups"] for m in g["photos"]}
    for kind, i in DEMO_COPIES:
        number = str(DEMO_COPY_NUMBER + i)
        if kind == "same-caption":  # another photo of the same subject: not a copy
            assert number not in grouped, kind
        else:
            assert grouped.get(number) == ("exact" if kind == "copy" else "near"), kind
            assert grouped.get(f"{i:04d}") == grouped[number]  # with its source photo
    assert all(g["keep"].rsplit("-", 1)[1].startswith("0") for g in found["groups"])

