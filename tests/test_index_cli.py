"""End to end through the real command line: index, search, similar, status."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest
from imagezoo import make_bad_files, make_library, picture, save, snapshot
from PIL import Image

INDEX_KEYS = {"added", "updated", "removed", "moved", "unchanged", "failed", "embedded", "seconds"}


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "Pictures"
    files = make_library(root)
    return root, files


def similar_top(cli, path, tmp_path):
    """The best match for a copy of `path` from outside the library (`similar` with the
    library photo itself leaves that photo out of its results)."""
    outside = tmp_path / "outside" / f"copy-of-{path.name}"
    outside.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, outside)
    return cli.json("similar", outside, "--limit", 1)["results"][0]


def test_index_then_search_and_similar(cli, library, tiny_model, tmp_path):
    root, files = library
    report = cli.json("index", root, "--model", tiny_model)
    assert INDEX_KEYS <= set(report)
    assert report["added"] == len(files) and report["embedded"] == len(files)
    assert report["failed"] == []

    found = cli.json("search", "a dog on the beach", "--limit", 5)
    assert found["query"] == "a dog on the beach"
    assert len(found["results"]) == 5
    scores = [r["score"] for r in found["results"]]
    assert scores == sorted(scores, reverse=True)
    for r in found["results"]:
        assert os.path.isabs(r["path"]) and os.path.exists(r["path"])
        assert {"width", "height", "taken"} <= set(r)

    # a byte-identical copy from outside the library finds its original first
    outside = tmp_path / "Downloads" / "that-photo.jpg"
    outside.parent.mkdir()
    shutil.copyfile(files["jpeg"], outside)
    similar = cli.json("similar", outside, "--limit", 3)
    assert similar["results"][0]["path"] == str(files["jpeg"])
    assert similar["results"][0]["score"] >= 0.99

    text = cli("search", "anything")
    assert len(text.strip().splitlines()) == 14  # default limit 20, the library holds 14


def test_second_index_embeds_nothing(cli, library, tiny_model):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    again = cli.json("index", root)
    assert again["embedded"] == 0 and again["added"] == 0
    assert again["unchanged"] == len(files)
    # no PATH: all remembered roots
    assert cli.json("index")["unchanged"] == len(files)


def test_rename_and_move_reuse_vectors(cli, library, tiny_model):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    moved_to = root / "archive" / "renamed-beach.jpg"
    moved_to.parent.mkdir()
    os.rename(files["jpeg"], moved_to)
    report = cli.json("index", root)
    assert report["moved"] == 1 and report["embedded"] == 0
    assert report["removed"] == 0 and report["added"] == 0
    # the photo is found at its new path (a copy from outside the library asks for it;
    # `similar` with the library photo itself leaves that photo out of its results)
    outside = root.parent / "outside.jpg"
    shutil.copyfile(moved_to, outside)
    hits = cli.json("similar", outside, "--limit", 1)["results"]
    assert hits[0]["path"] == str(moved_to)
    assert str(moved_to) not in [h["path"] for h in cli.json("similar", moved_to)["results"]]


def test_copy_reuses_vector_and_delete_removes(cli, library, tiny_model):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    copy = root / "copy-of-chart.png"
    shutil.copyfile(files["png"], copy)
    files["webp"].unlink()
    report = cli.json("index", root)
    assert report["added"] == 1 and report["embedded"] == 0 and report["removed"] == 1
    paths = [r["path"] for r in cli.json("search", "sticker", "--limit", 50)["results"]]
    assert str(files["webp"]) not in paths
    assert str(copy) in paths


def test_changed_photo_is_embedded_again(cli, library, tiny_model, tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    save(picture(555), files["jpeg"], quality=90)
    report = cli.json("index", root)
    assert report["updated"] == 1 and report["embedded"] == 1
    hit = similar_top(cli, files["jpeg"], tmp_path)
    assert hit["path"] == str(files["jpeg"]) and hit["score"] >= 0.99


def test_exif_rotated_photo_matches_its_upright_twin(cli, library, tiny_model, tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    twin = save(picture(5), tmp_path / "upright.jpg", quality=95)
    hit = cli.json("similar", twin, "--limit", 1)["results"][0]
    assert hit["path"] == str(files["rotated"])
    assert hit["score"] >= 0.99
    # the rotated photo reports its upright size: stored 240×320, shown 320×240
    assert (hit["width"], hit["height"]) == (320, 240)


def test_date_taken_comes_from_exif(cli, library, tiny_model, tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    hit = similar_top(cli, files["dated"], tmp_path)
    assert hit["taken"] == "2024-05-17T14:03:09"


def test_bad_files_are_listed_and_never_stop_the_run(cli, library, tiny_model):
    root, files = library
    bad = make_bad_files(root / "bad")
    loop = root / "loop"
    loop.symlink_to(root)
    (root / "outside-link").symlink_to("/usr/share")
    raw = os.fsencode(root) + b"/latin1-\xe9t\xe9.jpg"
    with open(raw, "wb") as f:
        picture(42).save(f, format="JPEG")

    report = cli.json("index", root, "--model", tiny_model)
    assert report["added"] == len(files)
    failed = {f["path"]: f["reason"] for f in report["failed"]}
    for path in bad.values():
        assert str(path) in failed, f"{path.name} not listed as failed"
    assert "empty" in failed[str(bad["empty"])]
    assert "too large" in failed[str(bad["bomb"])]
    assert "truncated" in failed[str(bad["truncated"])]
    assert any("not valid UTF-8" in reason for reason in failed.values())
    assert all(reason and "\n" not in reason for reason in failed.values())
    status = cli.json("status")
    assert status["failed"] == len(failed)


def test_failed_file_is_retried_only_when_it_changes(cli, library, tiny_model):
    root, _files = library
    broken = root / "broken.jpg"
    broken.write_text("not yet a photo")
    first = cli.json("index", root, "--model", tiny_model)
    assert [f["path"] for f in first["failed"]] == [str(broken)]

    from photofind.core.store.catalog import Catalog

    def failed_at():
        catalog = Catalog.open_for_reading(cli.data_dir / "catalog.db")
        try:
            return catalog.conn.execute("SELECT failed_at FROM failures").fetchone()[0]
        finally:
            catalog.close()

    before = failed_at()
    second = cli.json("index", root)
    assert [f["path"] for f in second["failed"]] == [str(broken)]
    assert failed_at() == before  # not read again

    save(picture(77), broken, format="JPEG")
    third = cli.json("index", root)
    assert third["failed"] == [] and third["added"] == 1 and third["embedded"] == 1


def test_missing_root_deletes_nothing(cli, library, tiny_model, tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    unplugged = tmp_path / "unplugged"
    os.rename(root, unplugged)
    report = cli.json("index")
    assert report["removed"] == 0
    assert report["missing_roots"] == [str(root)]
    status = cli.json("status")
    assert status["photos"] == len(files)
    assert status["offline_roots"] == [str(root)]
    os.rename(unplugged, root)
    assert cli.json("index")["unchanged"] == len(files)


def test_model_change_re_embeds_and_never_mixes(cli, library, tiny_model, other_model,
                                                tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    report = cli.json("index", root, "--model", other_model)
    assert report["updated"] == len(files) and report["embedded"] == len(files)
    assert "re-embedded" in cli.err
    status = cli.json("status")
    assert status["model"].endswith("/other") and status["searchable"] == len(files)
    hit = similar_top(cli, files["png"], tmp_path)
    assert hit["path"] == str(files["png"]) and hit["score"] >= 0.99


def test_corrupt_index_file_is_rebuilt(cli, library, tiny_model, data_dir, tmp_path):
    root, files = library
    cli.json("index", root, "--model", tiny_model)
    (index_file,) = data_dir.glob("vectors-*.usearch")
    data = bytearray(index_file.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    index_file.write_bytes(bytes(data))

    report = cli.json("index", root)
    assert "rebuilding the vector index" in cli.err and "damaged" in cli.err
    assert report["embedded"] == 0
    hit = similar_top(cli, files["heic"], tmp_path)
    assert hit["path"] == str(files["heic"]) and hit["score"] >= 0.99

    index_file = next(data_dir.glob("vectors-*.usearch"))
    index_file.write_bytes(b"")  # a reader copes too, without writing anything
    hit = similar_top(cli, files["png"], tmp_path)
    assert hit["path"] == str(files["png"])


def test_library_untouched_and_data_dir_private(cli, library, tiny_model, data_dir, tmp_path):
    root, files = library
    make_bad_files(root / "bad")
    before = snapshot(root)
    cli.json("index", root, "--model", tiny_model)
    cli.json("search", "a cat")
    cli.json("similar", files["png"])
    cli.json("status")
    assert snapshot(root) == before
    os.rename(files["jpeg"], root / "renamed.jpg")
    before = snapshot(root)
    assert cli.json("index")["moved"] == 1
    assert snapshot(root) == before
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    for entry in data_dir.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) & 0o077 == 0, entry


def test_expected_failures_are_one_line(cli, tmp_path, library, tiny_model):
    root, _files = library
    cli("index", tmp_path / "nope", "--model", tiny_model, expect=1)
    assert cli.err.startswith("photofind: error: no such folder") and cli.err.count("\n") == 1
    cli("search", "x", expect=1)
    assert "library is empty" in cli.err
    cli.json("index", root, "--model", tiny_model)
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    cli("similar", not_image, expect=1)
    assert "cannot search with" in cli.err and cli.err.count("\n") == 1
    cli("similar", tmp_path / "missing.jpg", expect=1)
    assert "no such file" in cli.err
    cli("index", root / "2023" / "beach.jpg", expect=1)
    assert "is a file" in cli.err


def test_data_dir_inside_library_is_refused(capsys, library, tiny_model):
    from photofind.cli import main

    root, _files = library
    assert main(["--data-dir", str(root / "pf-data"), "index", str(root)]) == 1
    assert "never writes inside a library folder" in capsys.readouterr().err


def test_missing_weights_name_the_model(cli, library):
    root, _files = library
    cli("index", root, "--model", "ViT-B-32-256", "--pretrained", "datacomp_s34b_b86k", expect=1)
    assert "ViT-B-32-256 (datacomp_s34b_b86k)" in cli.err
    assert "local-dir:" in cli.err and cli.err.count("\n") == 1


def test_second_writer_is_refused(cli, library, tiny_model, data_dir):
    from photofind.core.ingest.writer import Writer
    from photofind.core.store.datadir import DataDir

    root, _files = library
    with Writer(DataDir(data_dir), "watch"):
        cli("index", root, "--model", tiny_model, expect=1)
    assert "another photofind" in cli.err and "photofind watch" in cli.err
    cli.json("index", root, "--model", tiny_model)  # free again once the holder is gone


def test_rotated_and_odd_images_decode_upright(tmp_path):
    from imagezoo import jpeg_with_orientation

    from photofind.core.media.decode import open_image

    upright = picture(3, (120, 80))
    ref = np.asarray(upright, dtype=np.float32)
    for orientation in range(1, 9):
        path = jpeg_with_orientation(upright, tmp_path / f"o{orientation}.jpg", orientation)
        decoded, _, _ = open_image(path, 0)
        assert decoded.image.size == (120, 80), orientation
        assert (decoded.width, decoded.height) == (120, 80)
        assert np.abs(np.asarray(decoded.image, dtype=np.float32) - ref).mean() < 6, orientation

    # for the model, a big photo is reduced (JPEG draft, then a whole-factor box filter)
    # before it is turned: the same upright pixels whatever the orientation
    big = picture(3, (2400, 1600))
    small = None
    for orientation in range(1, 9):
        path = jpeg_with_orientation(big, tmp_path / f"big{orientation}.jpg", orientation)
        decoded, _, _ = open_image(path, 32)
        assert (decoded.width, decoded.height) == (2400, 1600), orientation
        assert decoded.image.size == (100, 67), orientation  # 1/8 draft, then reduce(3)
        pixels = np.asarray(decoded.image, dtype=np.float32)
        small = pixels if small is None else small
        assert np.abs(pixels - small).mean() < 6, orientation
    assert np.abs(small - np.asarray(big.resize((100, 67), Image.BOX), dtype=np.float32)
                  ).mean() < 6

    cmyk = save(picture(4).convert("CMYK"), tmp_path / "cmyk.jpg")
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray((np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)).save(sixteen)
    palette = tmp_path / "palette.png"
    pimg = picture(5, (64, 64)).convert("P")
    pimg.info["transparency"] = 0
    pimg.save(palette, transparency=0)
    gif = tmp_path / "anim.gif"
    frames = [picture(i, (64, 64)).convert("P") for i in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    for path in (cmyk, sixteen, palette, gif):
        decoded, _, _ = open_image(path, 32)
        assert decoded.image.mode == "RGB", path
    grey = np.asarray(open_image(sixteen, 0)[0].image)
    assert grey.min() < 10 and grey.max() > 240  # scaled, not clipped to white


def test_large_jpeg_is_decoded_at_reduced_scale(tmp_path):
    from photofind.core.media.decode import open_image

    path = save(picture(1, (4000, 3000)), tmp_path / "big.jpg", quality=90)
    decoded, _, _ = open_image(path, 224)
    assert min(decoded.image.size) >= 224 and max(decoded.image.size) <= 1000
    assert (decoded.width, decoded.height) == (4000, 3000)


def test_unreadable_file_reason(tmp_path, monkeypatch):
    from photofind.core.errors import NotAnImage
    from photofind.core.media.decode import read_file

    target = save(picture(1), tmp_path / "locked.jpg")
    real_open = os.open

    def deny(path, *args, **kwargs):  # as root, chmod 000 would not stop the read
        if str(path) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(NotAnImage, match="permission denied"):
        read_file(target)
