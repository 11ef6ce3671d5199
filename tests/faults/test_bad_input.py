"""Every kind of bad or odd file: none crashes or stops a run; each failure is recorded once
with a reason a person can read, and read again only when the file changes."""

from __future__ import annotations

import ctypes
import json
import os
import threading

from conftest import outside_copy
from faultkit_input import (
    INDEXED,
    TORCH,
    check_data_dir,
    failure_stamps,
    failures,
    make_zoo,
    photofind,
)
from imagezoo import make_library, picture, save

from photofind.core.ingest import scanner


def _vanish_after_listing(monkeypatch, names: set[str]) -> list[str]:
    """Delete the files named `names` right after the scanner lists them (before they are read)."""
    real = scanner.walk_scope
    vanished: list[str] = []

    def walk_scope(scope, root):
        for item in real(scope, root):
            yield item
            if isinstance(item, scanner.Found) and os.path.basename(item.path) in names:
                os.unlink(item.path)
                vanished.append(item.path)
    monkeypatch.setattr(scanner, "walk_scope", walk_scope)
    return vanished


def test_bad_input_zoo(cli, tmp_path, tiny_model, monkeypatch):
    root = tmp_path / "Pictures"
    zoo = make_zoo(root / "zoo")
    ordinary = make_library(root / "ordinary", count=1)
    save(picture(70), root / "vanishing.jpg", quality=90)
    vanished = _vanish_after_listing(monkeypatch, {"vanishing.jpg"})

    report = cli.json("index", root, "--model", tiny_model, *TORCH)
    failed = {f["path"]: f["reason"] for f in report["failed"]}
    indexed = check_data_dir(cli.data_dir)["paths"]
    for name, (path, expect, word) in zoo.items():
        if expect == INDEXED:
            assert str(path) in indexed and str(path) not in failed, (name, failed.get(str(path)))
        else:
            assert str(path) in failed and str(path) not in indexed, name
            assert word in failed[str(path)], (name, failed[str(path)])
    for path in ordinary.values():
        assert str(path) in indexed
    for reason in failed.values():
        assert reason and "\n" not in reason and len(reason) < 300 and "Traceback" not in reason
    # not images: a FIFO, a socket, a folder named .jpg, links; a file gone before its read
    for name in ("pipe.jpg", "socket.jpg", "folder.jpg", "link-to-photo.jpg", "dangling.jpg"):
        assert str(root / "zoo" / name) not in set(failed) | indexed, name
    assert vanished == [str(root / "vanishing.jpg")]
    assert str(root / "vanishing.jpg") not in set(failed) | indexed
    assert len(indexed) == report["added"] == sum(e == INDEXED for _p, e, _w in zoo.values()) \
        + len(ordinary)
    assert failures(cli.data_dir) == failed  # each once, with its reason
    assert cli.json("status")["failed"] == len(failed)
    assert cli.json("status")["photos"] == len(indexed)

    # all eight EXIF orientations are stored upright: each matches the upright original
    twin = save(picture(40), tmp_path / "upright.jpg", quality=95)
    # (--no-stack: stacked, the eight are one result, the same picture; issue 21)
    hits = {r["path"]: r for r in cli.json("similar", twin, "--limit", 20,
                                           "--no-stack")["results"]}
    for orientation in range(1, 9):
        hit = hits[str(root / "zoo" / f"orientation-{orientation}.jpg")]
        assert hit["score"] >= 0.99 and (hit["width"], hit["height"]) == (320, 240), orientation
    stacks = [[r["path"], *r.get("copies", [])]
              for r in cli.json("similar", twin, "--limit", 20)["results"]]
    eight = {str(root / "zoo" / f"orientation-{o}.jpg") for o in range(1, 9)}
    assert any(eight <= set(stack) for stack in stacks)  # stacked: one picture
    pano = hits.get(str(root / "zoo" / "panorama-30000x3000.png"))
    assert pano is None or (pano["width"], pano["height"]) == (30000, 3000)

    # a second run reads none of them again
    monkeypatch.undo()
    stamps = failure_stamps(cli.data_dir)
    again = cli.json("index", root, *TORCH)
    assert {f["path"]: f["reason"] for f in again["failed"]} == failed
    assert again["embedded"] == 0 and again["added"] == 0
    assert failure_stamps(cli.data_dir) == stamps

    # one bad file changes (still bad): only it is read again; repaired: it is indexed
    truncated = root / "zoo" / "truncated.jpg"
    truncated.write_bytes(truncated.read_bytes()[:-100])
    third = cli.json("index", root, *TORCH)
    new_stamps = failure_stamps(cli.data_dir)
    assert [p for p in stamps if new_stamps[p] != stamps[p]] == [str(truncated)]
    assert third["embedded"] == 0 and len(third["failed"]) == len(failed)
    save(picture(71), truncated, quality=90)
    fourth = cli.json("index", root, *TORCH)
    assert fourth["added"] == 1 and str(truncated) not in failures(cli.data_dir)
    assert check_data_dir(cli.data_dir)["photos"] == len(indexed) + 1


def test_known_photo_vanishing_before_its_read_is_removed_not_failed(cli, tmp_path, tiny_model,
                                                                   monkeypatch):
    root = tmp_path / "Pictures"
    files = make_library(root, count=1)
    cli.json("index", root, "--model", tiny_model, *TORCH)
    target = files["png"]
    os.utime(target, ns=(1, 1))  # changed: it will be read again
    _vanish_after_listing(monkeypatch, {target.name})
    report = cli.json("index", root, *TORCH)
    assert report["removed"] == 1 and report["failed"] == []
    assert str(target) not in check_data_dir(cli.data_dir)["paths"]
    assert failures(cli.data_dir) == {}


def test_file_changing_while_being_read(cli, tmp_path, tiny_model):
    """A photo rewritten over and over during a run (a slow sync, an editor saving): the run
    finishes, and once the file is left alone the next run indexes its final content."""
    root = tmp_path / "Pictures"
    make_library(root, count=6)
    changing = save(picture(80), root / "changing.jpg", quality=90)
    versions = [changing.read_bytes(), (root / "2023" / "beach.jpg").read_bytes()[:5000],
                save(picture(81, (640, 480)), tmp_path / "v3.jpg").read_bytes()]
    stop = threading.Event()

    def rewrite():
        n = 0
        while not stop.is_set():
            with open(changing, "wb") as f:  # in place, not atomic: readers see halves
                data = versions[n % len(versions)]
                f.write(data[: len(data) // 2])
                f.flush()
                f.write(data[len(data) // 2:])
            n += 1
    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        report = cli.json("index", root, "--model", tiny_model, *TORCH)
    finally:
        stop.set()
        writer.join()
    assert report["added"] >= 14
    for f in report["failed"]:
        assert f["path"] == str(changing) and "\n" not in f["reason"]
    save(picture(82), changing, quality=90)
    again = cli.json("index", root, *TORCH)
    assert again["failed"] == [] and str(changing) not in failures(cli.data_dir)
    hit = cli.json("similar", outside_copy(changing), "--limit", 1)["results"][0]
    assert hit["path"] == str(changing) and hit["score"] >= 0.99
    check_data_dir(cli.data_dir)


def _without_root_overrides():
    """A preexec_fn: as root, drop the capabilities that let root read anything
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so file permissions apply to the child as to
    any user; as another user, nothing to do."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for cap in (1, 2):  # PR_CAPBSET_DROP = 24
            if libc.prctl(24, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    return drop


def test_unreadable_files_and_folders(cli, tmp_path, tiny_model):
    lib = tmp_path / "Pictures"
    make_library(lib, count=0)
    secret = save(picture(90), lib / "secret.jpg", quality=90)
    locked = lib / "locked"
    save(picture(91), locked / "inside.jpg", quality=90)
    data = cli.data_dir
    os.chmod(secret, 0o000)
    os.chmod(locked, 0o000)

    try:
        done = photofind(data, "index", lib, "--model", tiny_model, *TORCH, "--json",
                         preexec_fn=_without_root_overrides())  # as a user, not as root
        assert done.returncode == 0, done.stderr
        failed = {f["path"]: f["reason"] for f in json.loads(done.stdout)["failed"]}
        assert failed.get(str(secret), "").startswith("permission denied"), failed
        assert "could not be read" in failed.get(str(locked), ""), failed
        assert len(failed) == 2 and failures(data) == failed
        # readable again (a chmod changes neither size nor mtime): indexed on the next run
        os.chmod(secret, 0o644)
        os.chmod(locked, 0o755)
        assert cli.json("index", *TORCH)["failed"] == []
        assert {str(secret), str(locked / "inside.jpg")} <= check_data_dir(data)["paths"]
        assert failures(data) == {}
    finally:
        os.chmod(locked, 0o755)
