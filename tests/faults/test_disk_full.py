"""The data directory's disk fills up during indexing: photofind stops with one clear line
(what happened, what to do), the catalog and the vector index stay sound, and once there is
space again a rerun finishes the job, with no photo marked as failed because of the disk.

The small disk is a real one where the test may mount (root in a container, as in CI): a
tmpfs of a few MiB holding the data directory, filled up but for a few KiB. Where mounting
is not permitted, photofind runs as a child whose files cannot grow past a limit
(RLIMIT_FSIZE: writes beyond it fail with EFBIG, as on a full disk they fail with ENOSPC).
"""

from __future__ import annotations

import os

from conftest import outside_copy
from faultkit_input import (
    TORCH,
    check_data_dir,
    failures,
    fill,
    limit_file_size,
    one_line_error,
    photofind,
    tmpfs,
)
from imagezoo import make_library, picture, save


def _more_photos(root, count: int, seed: int = 1000) -> None:
    for i in range(count):
        save(picture(seed + i, (96, 72)), root / "new" / f"n{i:04d}.jpg", quality=80)


def _assert_disk_message(line: str) -> None:
    assert "full" in line or "space" in line or "too large" in line, line
    assert "free" in line and "again" in line, line  # what to do
    assert len(line) < 400, line


def test_disk_full_while_indexing_then_resume(tmp_path, tiny_model, cli):
    root = tmp_path / "Pictures"
    files = make_library(root, count=2)
    small = tmp_path / "small"
    with tmpfs(small, 8 * 1024) as mounted:
        data = small / "data"
        cli.data_dir = data
        cli.json("index", root, "--model", tiny_model, *TORCH)
        _more_photos(root, 160)
        if mounted:
            filler = fill(small, leave_kb=48)
            done = photofind(data, "index", root, *TORCH, "--json")
        else:
            used = sum(f.stat().st_size for f in data.iterdir() if f.is_file())
            done = photofind(data, "index", root, *TORCH, "--json",
                             preexec_fn=limit_file_size(used + 48 * 1024))
        assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        _assert_disk_message(one_line_error(done.stderr))
        assert done.stdout == ""
        sound = check_data_dir(data)  # integrity ok, index = catalog
        assert len(files) <= sound["photos"] < len(files) + 160
        assert failures(data) == {}  # the disk's fault, not the photos'

        if mounted:
            filler.unlink()  # space returns
        report = cli.json("index", root, *TORCH)
        assert report["failed"] == []
        assert report["added"] + sound["photos"] == len(files) + 160
        assert check_data_dir(data)["photos"] == len(files) + 160
        assert not [p for p in os.listdir(data) if p.endswith(".tmp")]
        hit = cli.json("similar", outside_copy(root / "new" / "n0159.jpg"), "--limit",
                       1)["results"][0]
        assert hit["path"] == str(root / "new" / "n0159.jpg") and hit["score"] >= 0.99
