"""Duplicates (issue 21): a real library written with Pillow — distinct scenes, each with
an exact copy, a JPEG re-encode at quality 60, a 50% resize, a PNG conversion, an
EXIF-rotated copy with turned pixels, a 3% crop and an EXIF-stripped copy, plus decoys
(another photo with the same caption; a burst shot 5 s later) — indexed with the demo
model through the real CLI, then `photofind duplicates`."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from photofind.demo.variants import VARIANTS, write_duplicate_library

SCENES = 10


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """(data dir, library folder, items): indexed once for the module."""
    from photofind.cli import main

    base = tmp_path_factory.mktemp("dups")
    items = write_duplicate_library(base / "photos", SCENES)
    assert main(["--data-dir", str(base / "data"), "index", str(base / "photos"),
                 "--model", "demo", "--json"]) == 0
    return base / "data", base / "photos", items


def run(capsys, data: Path, *args: str, expect: int = 0) -> str:
    from photofind.cli import main

    capsys.readouterr()
    code = main(["--data-dir", str(data), *args])
    out, err = capsys.readouterr()
    assert code == expect, f"exit {code}\nstdout: {out}\nstderr: {err}"
    return out


def pairs(groups: list[dict]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups
            for p in itertools.combinations([m["path"] for m in g["photos"]], 2)}


def test_pairs_found_with_precision_and_recall_and_no_decoy(library, capsys):
    data, _photos, items = library
    found = json.loads(run(capsys, data, "duplicates", "--json"))
    group = {str(i.path): i.group for i in items}
    truth = {tuple(sorted(p)) for p in itertools.combinations(group, 2)
             if group[p[0]] == group[p[1]]}
    got = pairs(found["groups"])
    hit = got & truth
    precision, recall = len(hit) / max(len(got), 1), len(hit) / len(truth)
    assert precision >= 0.95 and recall >= 0.9, (precision, recall, sorted(truth - got)[:5])
    decoys = {str(i.path) for i in items if i.kind in ("same-caption", "burst")}
    grouped = {m["path"] for g in found["groups"] for m in g["photos"]}
    assert not grouped & decoys, sorted(grouped & decoys)
    assert isinstance(found["seconds"], float)
    # every variant kind is found with its original, in one group per scene
    assert len(found["groups"]) == SCENES
    for g in found["groups"]:
        kinds = {Path(m["path"]).stem for m in g["photos"]}
        assert kinds == {"original", *VARIANTS}, kinds


def test_each_group_proposes_the_original_and_says_why(library, capsys):
    data, _photos, _items = library
    found = json.loads(run(capsys, data, "duplicates", "--json"))
    for g in found["groups"]:
        # the original: most pixels (the crop and the half lose), the camera's JPEG (not
        # the PNG), with its date (not stripped or turned), the largest file (not q60),
        # and written before its byte-identical copy
        assert Path(g["keep"]).name == "original.jpg", (g["keep"], g["why"])
        assert g["photos"][0]["path"] == g["keep"] and g["why"]
        half = next(m for m in g["photos"] if Path(m["path"]).stem == "half")
        assert (half["width"], half["height"]) == (320, 240) and half["type"] == "JPEG"
        png = next(m for m in g["photos"] if Path(m["path"]).stem == "png")
        assert png["type"] == "PNG" and png["bytes"] > 0 and png["taken"] is None
        assert 0.9 < min(m["similarity"] for m in g["photos"]) <= 1.0
        assert all(set(m) >= {"path", "bytes", "width", "height", "type", "taken",
                              "similarity"} for m in g["photos"])


def test_kind_exact_lists_only_identical_files(library, capsys):
    data, _photos, items = library
    found = json.loads(run(capsys, data, "duplicates", "--kind", "exact", "--json"))
    assert {g["kind"] for g in found["groups"]} == {"exact"}
    assert len(found["groups"]) == SCENES
    for g in found["groups"]:
        names = sorted(Path(m["path"]).name for m in g["photos"])
        assert names == ["copy.jpg", "original.jpg"]
        contents = {Path(m["path"]).read_bytes() for m in g["photos"]}
        assert len(contents) == 1


def test_bursts_are_reported_apart_from_duplicates(library, capsys):
    data, _photos, _items = library
    found = json.loads(run(capsys, data, "duplicates", "--kind", "burst", "--json"))
    assert found["groups"], "the burst shots 5 s after their originals"
    for g in found["groups"]:
        assert g["kind"] == "burst"
        names = {Path(m["path"]).name for m in g["photos"]}
        assert any(n.endswith("-burst.jpg") for n in names), names
        assert not any(n.endswith("-same-caption.jpg") for n in names), names


def test_in_folder_keeps_groups_with_a_photo_there(library, capsys):
    data, photos, _items = library
    folder = sorted(p for p in photos.iterdir() if p.is_dir() and p.name != "decoys")[0]
    found = json.loads(run(capsys, data, "duplicates", "--in", str(folder), "--json"))
    assert len(found["groups"]) == 1
    assert all(Path(m["path"]).parent == folder for m in found["groups"][0]["photos"])


def test_text_output_names_keeper_and_others(library, capsys):
    data, _photos, _items = library
    out = run(capsys, data, "duplicates")
    assert out.count("keep ") == SCENES and "original.jpg" in out and "q60.jpg" in out


def test_duplicates_never_touches_the_photos(library, capsys):
    data, photos, _items = library
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in photos.rglob("*") if p.is_file()}
    run(capsys, data, "duplicates", "--json")
    after = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in photos.rglob("*") if p.is_file()}
    assert before == after


def test_fingerprints_are_stored_at_index_time(library):
    data, _photos, items = library
    conn = sqlite3.connect(data / "catalog.db")
    rows = conn.execute("SELECT COUNT(*), COUNT(fingerprint) FROM photos").fetchone()
    conn.close()
    assert rows == (len(items), len(items))


def test_an_older_catalog_without_fingerprints_still_finds_near_copies(tmp_path, capsys):
    from photofind.cli import main

    write_duplicate_library(tmp_path / "photos", 2, variants=("q60", "half"),
                            decoys=("same-caption",))
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "index", str(tmp_path / "photos"), "--model",
                 "demo", "--json"]) == 0
    conn = sqlite3.connect(data / "catalog.db")
    with conn:  # as a catalog indexed before fingerprints existed
        conn.execute("UPDATE photos SET fingerprint = NULL")
    found = json.loads(run(capsys, data, "duplicates", "--json"))
    assert len(found["groups"]) == 2 and all(len(g["photos"]) == 3 for g in found["groups"])
    stored = conn.execute("SELECT COUNT(fingerprint) FROM photos").fetchone()[0]
    conn.close()
    assert stored == 0  # the pass only reads; the indexer writes fingerprints


def test_unknown_kind_is_a_usage_error(library, capsys):
    from photofind.cli import main

    data, _photos, _items = library
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(data), "duplicates", "--kind", "similar"])
    assert exc.value.code == 2


def test_no_library_yet_says_what_to_do(tmp_path, capsys):
    from photofind.cli import main

    assert main(["--data-dir", str(tmp_path / "none"), "duplicates"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "photofind" in err and "index" in err


def test_search_results_stack_copies_and_no_stack_lists_them(library, capsys, tmp_path):
    data, photos, items = library
    scene = items[0].group
    outside = tmp_path / "outside.jpg"  # similar to a photo from outside the library
    outside.write_bytes(next(i.path for i in items if i.group == scene
                             and i.kind == "q60").read_bytes())
    stacked = json.loads(run(capsys, data, "similar", str(outside), "--limit", "30", "--json"))
    first = stacked["results"][0]
    family = {str(i.path) for i in items if i.group == scene}
    assert {first["path"], *first["copies"]} == family, first
    others = [r for r in stacked["results"][1:]]
    assert not any(r["path"] in family for r in others)
    assert all(set(r.get("copies", [])).isdisjoint(family) for r in others)
    decoys = {str(i.path) for i in items if i.kind in ("same-caption", "burst")}
    assert all(not set(r.get("copies", [])) & decoys for r in stacked["results"])
    flat = json.loads(run(capsys, data, "similar", str(outside), "--limit", "30", "--no-stack",
                          "--json"))
    assert not any("copies" in r for r in flat["results"])
    assert family <= {r["path"] for r in flat["results"]}
    text = run(capsys, data, "similar", str(outside), "--limit", "30")
    assert "(+7 copies)" in text.splitlines()[0]
