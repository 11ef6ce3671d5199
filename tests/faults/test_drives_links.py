"""Drives that go away mid-scan, symbolic-link loops and escapes, folders renamed during a
scan. The moment is exact: the real scanner runs, and right after it lists a chosen file
the test pulls the drive (renames the root away) or renames the folder."""

from __future__ import annotations

import os

from conftest import outside_copy
from faultkit_input import TORCH, check_data_dir, failures
from imagezoo import make_library, picture, save

from photofind.core.ingest import scanner


def _after_listing(monkeypatch, name: str, action) -> list[str]:
    """Run `action()` right after the scanner yields the file called `name` (once)."""
    real = scanner.walk_scope
    fired: list[str] = []

    def walk_scope(scope, root):
        for item in real(scope, root):
            yield item
            if not fired and isinstance(item, scanner.Found) \
                    and os.path.basename(item.path) == name:
                fired.append(item.path)
                action()
    monkeypatch.setattr(scanner, "walk_scope", walk_scope)
    return fired


def _image_files(root) -> set[str]:
    found = set()
    for dirpath, _dirs, names in os.walk(root):
        found |= {os.path.join(dirpath, n) for n in names if not n.startswith(".")
                  and os.path.isfile(os.path.join(dirpath, n))
                  and not os.path.islink(os.path.join(dirpath, n))}
    return found


def test_root_unplugged_mid_scan_deletes_nothing_and_catches_up(cli, tmp_path, tiny_model,
                                                                monkeypatch):
    root = tmp_path / "Drive"
    files = make_library(root, count=8)
    cli.json("index", root, "--model", tiny_model, *TORCH)
    before = check_data_dir(cli.data_dir)["paths"]
    for i in range(6):  # new photos, and changed ones, waiting to be read
        save(picture(300 + i), root / "more" / f"new_{i}.jpg", quality=85)
    save(picture(310), files["extra7"], quality=85)
    pulled = tmp_path / "pulled"
    fired = _after_listing(monkeypatch, "new_2.jpg", lambda: os.rename(root, pulled))

    report = cli.json("index", root, *TORCH)
    assert fired and not root.exists()
    assert report["removed"] == 0 and report["failed"] == []
    assert check_data_dir(cli.data_dir)["paths"] >= before  # nothing deleted while gone
    assert failures(cli.data_dir) == {}
    status = cli.json("status")
    assert status["offline_roots"] == [str(root)]

    monkeypatch.undo()
    os.rename(pulled, root)  # plugged in again
    again = cli.json("index", root, *TORCH)
    assert again["failed"] == [] and again["removed"] == 0
    assert check_data_dir(cli.data_dir)["paths"] == _image_files(root)
    hit = cli.json("similar", outside_copy(files["extra7"]), "--limit", 1)["results"][0]
    assert hit["path"] == str(files["extra7"]) and hit["score"] >= 0.99


def test_symlink_loops_and_links_out_of_the_roots(cli, tmp_path, tiny_model):
    root = tmp_path / "Pictures"
    make_library(root, count=1)
    outside = tmp_path / "Elsewhere"
    save(picture(400), outside / "private.jpg", quality=90)
    (root / "loop").symlink_to(root)
    (root / "2023" / "up").symlink_to(root / "2023")
    (root / "misc" / "a").symlink_to(root / "misc" / "b")
    (root / "misc" / "b").symlink_to(root / "misc" / "a")  # a two-link cycle
    (root / "elsewhere").symlink_to(outside)
    (root / "private-link.jpg").symlink_to(outside / "private.jpg")
    (root / "self.jpg").symlink_to(root / "self.jpg")
    alias = tmp_path / "Alias"
    alias.symlink_to(root)  # a root given through a link is stored as its real path

    report = cli.json("index", alias, "--model", tiny_model, *TORCH)
    assert report["failed"] == []
    paths = check_data_dir(cli.data_dir)["paths"]
    assert paths == _image_files(root) - {str(root / "private-link.jpg"), str(root / "self.jpg")}
    assert all(p.startswith(str(root) + os.sep) for p in paths)
    assert cli.json("status")["roots"] == [str(root)]


def test_folder_renamed_while_being_scanned(cli, tmp_path, tiny_model, monkeypatch):
    root = tmp_path / "Pictures"
    make_library(root, count=12)
    cli.json("index", root, "--model", tiny_model, *TORCH)
    save(picture(500), root / "more" / "photo_new.jpg", quality=85)
    fired = _after_listing(monkeypatch, "photo_003.jpg",
                           lambda: os.rename(root / "more", root / "more-renamed"))
    report = cli.json("index", root, *TORCH)  # no crash; whatever it made of the half-seen folder
    assert fired and report["failed"] == []
    check_data_dir(cli.data_dir)
    monkeypatch.undo()
    again = cli.json("index", root, *TORCH)
    assert again["failed"] == [] and again["removed"] == 0
    assert check_data_dir(cli.data_dir)["paths"] == _image_files(root)
