"""Filters, dates, sorting and browsing through the real command line, on a library of
real files (EXIF-dated JPEGs in dated folders, a PNG with only a file date, portrait,
landscape and square pictures)."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from PIL import Image

EXIF_IFD, DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x8769, 0x9003, 0x9011


def photo(path, size, colour, taken=None, offset=None, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    for x in range(0, size[0], 7):  # some texture, so no two photos are identical
        img.putpixel((x, (x * 3) % size[1]), (x % 255, 30, 200))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = taken
        if offset:
            exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = offset
    if fmt == "PNG":
        img.save(path)
    elif taken:
        img.save(path, "JPEG", exif=exif.tobytes())
    else:
        img.save(path, "JPEG")
    return path


@pytest.fixture
def dated(tmp_path, cli, tiny_model):
    root = tmp_path / "Pictures"
    files = {
        "italy21": photo(root / "2021" / "Italy" / "rome.jpg", (120, 80), "orange",
                         "2021:07:04 12:00:00", "+02:00"),
        "italy23": photo(root / "2023" / "Italy" / "venice.jpg", (80, 120), "blue",
                         "2023:08:15 09:30:00"),
        "home23": photo(root / "2023" / "Home" / "garden.jpg", (100, 100), "green",
                        "2023:05:01 18:00:00"),
        "home24": photo(root / "2024" / "Home" / "snow.jpg", (120, 80), "white",
                        "2024:01:20 08:00:00"),
        "chart": photo(root / "misc" / "chart.png", (90, 60), "red", fmt="PNG"),
    }
    when = dt.datetime(2022, 3, 3, 12, 0).timestamp()
    os.utime(files["chart"], (when, when))
    cli.json("index", root, "--model", tiny_model)
    return root, files


def paths(doc):
    return [r["path"] for r in doc["results"]]


def test_browse_lists_newest_first_with_dates(cli, dated):
    root, f = dated
    doc = cli.json("search")
    assert paths(doc) == [str(f[k]) for k in ("home24", "italy23", "home23", "chart", "italy21")]
    first = doc["results"][0]
    assert first["taken"] == "2024-01-20T08:00:00" and first["taken_from"] == "exif"
    assert first["score"] is None and first["good"] and first["kind"] == "photo"
    chart = next(r for r in doc["results"] if r["path"] == str(f["chart"]))
    assert chart["taken_from"] == "file" and chart["taken"].startswith("2022-03-03")
    rome = next(r for r in doc["results"] if r["path"] == str(f["italy21"]))
    assert rome["taken"] == "2021-07-04T12:00:00+02:00"
    assert paths(cli.json("search", "--sort", "oldest"))[0] == str(f["italy21"])


def test_date_filters_year_month_day(cli, dated):
    root, f = dated
    assert set(paths(cli.json("search", "--after", "2023"))) == {
        str(f["italy23"]), str(f["home23"]), str(f["home24"])}
    assert paths(cli.json("search", "after:2023-06", "before:2024")) == [str(f["italy23"])]
    assert paths(cli.json("search", "--after", "2023-05-01", "--before", "2023-05-02")) == [
        str(f["home23"])]
    # the file date of a photo without EXIF counts too
    assert paths(cli.json("search", "after:2022", "before:2022-12")) == [str(f["chart"])]


def test_folder_type_orientation_filters(cli, dated):
    root, f = dated
    assert set(paths(cli.json("search", "in:italy"))) == {str(f["italy21"]), str(f["italy23"])}
    assert set(paths(cli.json("search", "--in", str(root / "2023")))) == {
        str(f["italy23"]), str(f["home23"])}
    assert set(paths(cli.json("search", "in:Italy", "in:Home", "after:2023"))) == {
        str(f["italy23"]), str(f["home23"]), str(f["home24"])}
    assert paths(cli.json("search", "type:png")) == [str(f["chart"])]
    assert paths(cli.json("search", "--type", "jpeg", "--orientation", "portrait")) == [
        str(f["italy23"])]
    assert paths(cli.json("search", "orientation:square")) == [str(f["home23"])]
    assert set(paths(cli.json("search", "orientation:landscape"))) == {
        str(f["italy21"]), str(f["home24"]), str(f["chart"])}


def test_filters_apply_to_text_and_similar(cli, dated):
    root, f = dated
    found = cli.json("search", "a", "photo", "in:Italy", "--limit", "10")
    assert set(paths(found)) == {str(f["italy21"]), str(f["italy23"])}
    assert all(isinstance(r["good"], bool) and r["score"] is not None for r in found["results"])
    similar = cli.json("similar", f["home24"], "--before", "2023")
    assert set(paths(similar)) == {str(f["italy21"]), str(f["chart"])}


def test_similar_leaves_the_photo_itself_out_but_lists_its_copies(cli, dated, tiny_model):
    root, f = dated
    copy = root / "backup" / "rome-copy.jpg"
    copy.parent.mkdir()
    shutil.copyfile(f["italy21"], copy)
    cli.json("index")
    hits = paths(cli.json("similar", f["italy21"]))
    assert str(f["italy21"]) not in hits
    assert hits[0] == str(copy)


def test_sort_orders_good_matches_by_date(cli, dated):
    doc = cli.json("search", "photo", "--sort", "newest", "--limit", "5")
    good = [r for r in doc["results"] if r["good"]]
    assert [r["taken"][:19] for r in good] == sorted((r["taken"][:19] for r in good), reverse=True)
    assert doc["results"][: len(good)] == good  # good matches come first


def test_offline_photos_are_marked(cli, dated, tmp_path):
    root, f = dated
    moved = tmp_path / "unplugged"
    os.rename(root, moved)  # the whole root is gone: its photos are offline, not deleted
    try:
        doc = cli.json("search", "--limit", "10")
        assert len(doc["results"]) == 5
        assert not any(r["online"] for r in doc["results"])
    finally:
        os.rename(moved, root)
    assert all(r["online"] for r in cli.json("search")["results"])


@pytest.mark.parametrize("args, token", [
    (["after:yesterday-ish"], "after:yesterday-ish"),
    (["--before", "2023-13"], "before:2023-13"),
    (["in:Narnia"], "in:Narnia"),
    (["in:/definitely/not/in/the/library"], "in:/definitely/not/in/the/library"),
    (["type:raw"], "type:raw"),
    (["orientation:round"], "orientation:round"),
    (["+kids:99"], "+kids:99"),
    ([""], "empty"),
])
def test_malformed_queries_exit_2_with_one_line_naming_the_token(cli, dated, args, token):
    cli("search", *args, expect=2)
    lines = cli.err.strip().splitlines()
    assert len(lines) == 1 and token in lines[0]


def test_limit_nonsense_is_refused_in_one_line(cli, dated, capsys):
    from photofind.cli import main

    for bad in ("1e23", "1000000000", "0"):
        with pytest.raises(SystemExit) as info:
            main(["--data-dir", str(cli.data_dir), "search", "x", "--limit", bad])
        assert info.value.code == 2
        assert "--limit" in capsys.readouterr().err


def test_the_writer_caches_the_background_phrases_for_cold_searches(cli, dated, data_dir):
    """Good-match judgements need the background phrases' vectors: the writer makes them
    once per model, so a `photofind search` process does not embed ~250 phrases."""
    import numpy as np

    from photofind.core.search import relevance

    (cache,) = data_dir.rglob(relevance.CACHE_FILE)
    cached = relevance.Background.load(cache.parent, relevance.phrase_list(None))
    assert cached is not None and len(cached.phrases) > 200
    assert np.allclose(np.linalg.norm(cached.vectors, axis=1), 1.0, atol=1e-2)
    cache.unlink()  # a library indexed before good matches existed: the next index makes it
    cli.json("index")
    assert list(data_dir.rglob(relevance.CACHE_FILE))
