"""One line instead of a traceback, and a data folder's mode left alone (issue 17, items
10-11).

Each failure a person can meet outside photofind (a data folder that is a file, a home
folder that cannot be written, a folder name that is not UTF-8, a read-only data folder,
another program holding the catalog's write lock) ends with exit status 1 and one line
saying what happened and what to do. A `--data-dir` that exists keeps its mode; one that
every user may write to is refused.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from faultkit_attack import as_a_user, fault, need_mounts
from faultkit_input import TORCH, one_line_error, photofind, read_only_bind
from imagezoo import make_library

PHOTOFIND = [sys.executable, "-m", "photofind"]


def _refused(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    line = one_line_error(done.stderr)  # no traceback, exactly one error line
    for word in words:
        assert word in line, line
    return line


def test_a_data_folder_that_is_a_file(tmp_path, record_property):
    fault(record_property, 10)
    root = tmp_path / "Pictures"
    make_library(root, count=0)
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file")
    for args in (("index", root), ("status",), ("search", "red")):
        _refused(photofind(not_a_folder, *args), "is a file, not a folder", "--data-dir")
    assert not_a_folder.read_text() == "a file"


def test_a_home_folder_that_cannot_be_written(tmp_path, record_property):
    fault(record_property, 10)
    root = tmp_path / "Pictures"
    make_library(root, count=0)
    home = tmp_path / "home"
    home.mkdir(mode=0o555)
    os.chmod(home, 0o555)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PHOTOFIND_DATA_DIR", "XDG_DATA_HOME")}
    env["HOME"] = str(home)
    done = subprocess.run([*PHOTOFIND, "index", str(root)], capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=as_a_user())
    _refused(done, "cannot create its data folder", "--data-dir")
    assert os.listdir(home) == []


def test_a_folder_name_that_is_not_utf8(tmp_path, record_property):
    fault(record_property, 10)
    odd = os.path.join(os.fsencode(tmp_path), b"Bilder-\xff\xfe")
    os.makedirs(odd)
    done = subprocess.run([*map(os.fsencode, PHOTOFIND), b"--data-dir",
                           os.fsencode(tmp_path / "data"), b"index", odd],
                          capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr
    stderr = done.stderr.decode("utf-8")  # what reaches the terminal is valid UTF-8
    line = one_line_error(stderr)
    assert "not valid UTF-8" in line and "Bilder-\\xff\\xfe" in line, line


def test_a_read_only_data_folder(tmp_path, tiny_model, record_property):
    fault(record_property, 10)
    need_mounts()
    root = tmp_path / "Pictures"
    make_library(root, count=1)
    data = tmp_path / "data"
    done = photofind(data, "index", root, "--model", tiny_model, *TORCH)
    assert done.returncode == 0, done.stderr
    (data / "writer.lock").unlink()  # as on a disk copied elsewhere
    with read_only_bind(data, tmp_path / "data-ro") as ok:
        assert ok
        _refused(photofind(tmp_path / "data-ro", "index"), "data folder", "writ")


def test_index_while_another_program_holds_the_catalog(tmp_path, tiny_model,
                                                      record_property):
    fault(record_property, 10)
    root = tmp_path / "Pictures"
    make_library(root, count=1)
    data = tmp_path / "data"
    assert photofind(data, "index", root, "--model", tiny_model, *TORCH).returncode == 0
    more = tmp_path / "More"
    make_library(more, count=1)
    other = sqlite3.connect(data / "catalog.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. a database browser with a pending edit
        started = time.monotonic()
        line = _refused(photofind(data, "index", more, *TORCH), "locked", "close")
        assert time.monotonic() - started < 60, line
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_an_existing_data_folder_keeps_its_mode(tmp_path, tiny_model, record_property):
    fault(record_property, 11)
    root = tmp_path / "Pictures"
    make_library(root, count=1)
    mine = tmp_path / "chosen"
    mine.mkdir()
    os.chmod(mine, 0o755)
    done = photofind(mine, "index", root, "--model", tiny_model, *TORCH)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755  # not photofind's to change
    for name in ("catalog.db", "writer.lock"):
        assert stat.S_IMODE((mine / name).stat().st_mode) == 0o600, name
    for saved in mine.glob("vectors-*.usearch"):
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    for folder in ("models", "logs", "backups"):
        assert stat.S_IMODE((mine / folder).stat().st_mode) == 0o700, folder


def test_a_folder_every_user_may_write_is_refused_and_left_alone(tmp_path, record_property):
    fault(record_property, 11)
    root = tmp_path / "Pictures"
    make_library(root, count=0)
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    (shared / "someone-elses.txt").write_text("hello")
    line = _refused(photofind(shared, "index", root), "every user", "--data-dir")
    assert str(Path(shared) / "photofind") in line
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert sorted(os.listdir(shared)) == ["someone-elses.txt"]
