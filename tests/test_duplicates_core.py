"""The parts of the duplicates wing on their own: fingerprints of real Pillow files, the
keeper rule, stacking a result list, and the checks before moving files to the Trash."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from photofind.core.duplicates import fingerprint as fp
from photofind.core.duplicates.groups import Group, Member
from photofind.core.duplicates.stacking import stack
from photofind.core.duplicates.trash import move_to_trash
from photofind.core.media.decode import decode_for_model
from photofind.demo.variants import VARIANTS, strip_exif, write_duplicate_library


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    return write_duplicate_library(tmp_path_factory.mktemp("lib"), 6, seed=40)


def fingerprint_of(path: Path, min_side: int = 64) -> bytes:
    return fp.compute(decode_for_model(path.read_bytes(), min_side).image)


def test_variants_are_one_picture_and_decoys_are_not(items):
    cells = fp.cells([fingerprint_of(i.path) for i in items])
    same, other = [], []
    for a, b in itertools.combinations(range(len(items)), 2):
        if items[a].group == items[b].group:
            same.append((a, b))
        elif items[a].group[:3] == items[b].group[:3] and "burst" not in (
                items[a].kind, items[b].kind):
            other.append((a, b))  # same-caption decoys against the scene's copies
    mean, worst = fp.differences(cells[[a for a, _ in same]], cells[[b for _, b in same]])
    assert fp.same_picture(mean, worst).all(), [
        (items[a].path.name, items[b].path.name) for (a, b), ok
        in zip(same, fp.same_picture(mean, worst), strict=True) if not ok]
    mean, worst = fp.differences(cells[[a for a, _ in other]], cells[[b for _, b in other]])
    assert not fp.same_picture(mean, worst).any()


def test_fingerprint_does_not_depend_on_the_decode_size(items):
    original = next(i.path for i in items if i.kind == "original")
    small, large = fp.cells([fingerprint_of(original, 64), fingerprint_of(original, 224)])
    mean, worst = fp.differences(small[None], large[None])
    assert mean[0] < 2 and fp.same_picture(mean, worst)[0]


def test_the_variants_are_what_they_claim(items):
    by_kind = {i.kind: i.path for i in items if i.group == items[0].group}
    assert set(by_kind) == {"original", *VARIANTS}
    assert by_kind["copy"].read_bytes() == by_kind["original"].read_bytes()
    with Image.open(by_kind["rotated"]) as im:
        assert im.size == (480, 640) and im.getexif()[0x0112] == 6
    with Image.open(by_kind["half"]) as im:
        assert im.size == (320, 240)
    with Image.open(by_kind["png"]) as im:
        assert im.format == "PNG"
    with Image.open(by_kind["stripped"]) as im:
        assert not im.getexif()
    assert strip_exif(by_kind["original"].read_bytes()) == by_kind["stripped"].read_bytes()


def member(i: int, path: str, w: int, h: int, fmt: str = "JPEG", taken: str | None = None,
           size: int = 1000, date: str = "2024-01-01T00:00:00", mtime: int = 0) -> Member:
    return Member(i, path, size, w, h, fmt, taken, taken or date, mtime, f"h{i}")


def test_keeper_is_the_largest_then_the_camera_format_then_the_date():
    big = member(1, "/p/big.png", 4000, 3000, "PNG")
    small = member(2, "/p/small.jpg", 2000, 1500, taken="2020-01-01T10:00:00")
    group = Group("near", [small, big])
    assert group.keep == "/p/big.png" and "4000×3000" in group.why
    jpeg = member(3, "/p/a.jpg", 4000, 3000, size=900)
    png = member(4, "/p/a.png", 4000, 3000, "PNG", size=9000)
    group = Group("near", [png, jpeg])
    assert group.keep == "/p/a.jpg" and "JPEG" in group.why and "conversion" in group.why
    dated = member(5, "/p/d.jpg", 4000, 3000, taken="2019-05-05T08:00:00", size=500)
    stripped = member(6, "/p/s.jpg", 4000, 3000, size=800)
    group = Group("near", [stripped, dated])
    assert group.keep == "/p/d.jpg" and "camera date" in group.why
    old = member(7, "/p/z-old.jpg", 4000, 3000, taken="2018-01-01T00:00:00")
    new = member(8, "/p/a-new.jpg", 4000, 3000, taken="2019-01-01T00:00:00")
    group = Group("near", [new, old])
    assert group.keep == "/p/z-old.jpg" and "oldest" in group.why
    assert [m.path for m in group.others] == ["/p/a-new.jpg"]


def catalog_with(rows: list[tuple[int, str, bytes | None, str | None]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, hash TEXT, fingerprint BLOB, "
                 "taken TEXT)")
    conn.executemany("INSERT INTO photos VALUES (?,?,?,?)", rows)
    return conn


def test_stacking_folds_copies_into_the_best_ranked(items):
    group = [i for i in items if i.group == items[0].group]
    decoy = next(i for i in items if i.kind == "same-caption")
    files = [*group, decoy]
    rows = [(n + 1, hashlib.md5(i.path.read_bytes()).hexdigest(), fingerprint_of(i.path),
             None) for n, i in enumerate(files)]
    conn = catalog_with(rows)
    ids = [r[0] for r in rows]
    stacks = stack(conn, ids, [0.9] * len(ids))
    assert stacks == [ids[:-1], [ids[-1]]]  # one stack of the picture, the decoy alone
    # without scores close enough, only identical files stack
    far = stack(conn, ids, [0.9 - 0.1 * k for k in range(len(ids))])
    copy = next(n + 1 for n, i in enumerate(files) if i.kind == "copy")
    assert [1, copy] in far and len(far) == len(ids) - 1


def test_stacking_keeps_two_moments_apart(items):
    original = next(i for i in items if i.kind == "original")
    blob = fingerprint_of(original.path)
    conn = catalog_with([(1, "a", blob, "2024-05-01T09:00:00"),
                         (2, "b", blob, "2024-05-01T09:00:05"), (3, "c", blob, None)])
    assert stack(conn, [1, 2, 3], [0.9, 0.9, 0.9]) == [[1, 3], [2]]


def photo(path: Path, data: bytes) -> Member:
    path.write_bytes(data)
    st = path.stat()
    return Member(0, str(path), st.st_size, 10, 10, "JPEG", None, None, st.st_mtime_ns,
                  hashlib.blake2b(data, digest_size=16).hexdigest())


def jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def trash_dir(tmp_path):
    folder = tmp_path / "Trash"
    folder.mkdir()

    def mover(path: str) -> None:
        shutil.move(path, folder / os.path.basename(path))
    return folder, mover


def test_trash_moves_the_picked_copies_only(tmp_path, trash_dir):
    folder, mover = trash_dir
    keep = photo(tmp_path / "keep.jpg", jpeg("red"))
    a, b = photo(tmp_path / "a.jpg", jpeg("red")), photo(tmp_path / "b.jpg", jpeg("red"))
    result = move_to_trash(keep, [a, b, keep], mover)
    assert result.refused is None and sorted(result.moved) == [a.path, b.path]
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]
    assert Path(keep.path).exists()


def test_trash_refuses_a_changed_or_deleted_file_and_touches_nothing(tmp_path, trash_dir):
    folder, mover = trash_dir
    keep = photo(tmp_path / "keep.jpg", jpeg("red"))
    a, b = photo(tmp_path / "a.jpg", jpeg("red")), photo(tmp_path / "b.jpg", jpeg("red"))
    Path(b.path).write_bytes(jpeg("blue"))  # edited after the pass
    result = move_to_trash(keep, [a, b], mover)
    assert result.moved == [] and "b.jpg changed" in result.refused
    assert "\n" not in result.refused and not list(folder.iterdir())
    os.utime(b.path, ns=(b.mtime_ns, b.mtime_ns))
    edited = bytearray(jpeg("red"))
    edited[len(edited) // 2] ^= 0xFF
    Path(b.path).write_bytes(bytes(edited))  # same size and time, other bytes
    os.utime(b.path, ns=(b.mtime_ns, b.mtime_ns))
    assert "b.jpg changed" in (move_to_trash(keep, [a, b], mover).refused or "")
    Path(a.path).unlink()
    result = move_to_trash(keep, [a], mover)
    assert "a.jpg is gone" in result.refused and not list(folder.iterdir())
    Path(keep.path).unlink()
    result = move_to_trash(keep, [b], mover)
    assert result.refused.startswith("the photo to keep: keep.jpg is gone")
    assert Path(b.path).exists() and not list(folder.iterdir())


def test_a_file_the_system_cannot_trash_is_said_in_one_line(tmp_path, trash_dir):
    folder, mover = trash_dir
    keep = photo(tmp_path / "keep.jpg", jpeg("red"))
    a, b = photo(tmp_path / "a.jpg", jpeg("red")), photo(tmp_path / "b.jpg", jpeg("red"))

    def picky(path: str) -> None:
        if path.endswith("a.jpg"):
            raise OSError(30, "Read-only file system")
        mover(path)
    result = move_to_trash(keep, [a, b], picky)
    assert result.moved == [b.path] and len(result.failed) == 1
    path, reason = result.failed[0]
    assert path == a.path and "Read-only file system" in reason and "\n" not in reason
    assert Path(a.path).exists()
