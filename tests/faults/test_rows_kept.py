"""Rows kept for photos that are still there (issue 17, items 1-3).

A folder photofind cannot read, a drive unmounted from a folder inside a library root,
and a root whose drive was unplugged but whose bare mount point still holds a hidden file
(KDE writes `.directory`) are no evidence that any photo was deleted: their photos stay
in the catalog, the run says so, and nothing is re-embedded when they are back.

Real folders and real mounts: as root (as in CI) the drives are tmpfs file systems
mounted and unmounted for real, and the unreadable folder is read by a child process
that has given up root's power to read anything (file permissions then apply to it as to
any user). Where mounting is not permitted, the drive tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from faultkit_attack import (
    as_a_user,
    cataloged,
    fault,
    mount_tmpfs,
    need_mounts,
    rows_lost,
    umount,
)
from faultkit_input import TORCH, check_data_dir, index_json, photofind
from imagezoo import make_library, picture, save
from watching import Library, wait_for

from photofind.core.ingest.worker import LibraryWorker
from photofind.core.store.datadir import DataDir


def _photos(folder: Path, count: int, seed: int) -> set[str]:
    return {str(save(picture(seed + i, (96, 72)), folder / f"p{i:02d}.jpg", quality=85))
            for i in range(count)}


def _watch_startup_line(data: Path, log: Path, preexec_fn=None) -> str:
    """Start `photofind watch`, return its startup line ("caught up: …"), stop it."""
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "photofind", "--data-dir", str(data),
                                 "watch"], stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=preexec_fn)
        try:
            line = wait_for(lambda: next((x for x in log.read_text().splitlines()
                                          if "caught up" in x), None) or proc.poll(),
                            timeout=120, what="watch's first scan")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    assert isinstance(line, str), log.read_text()
    return line


def test_unreadable_subfolder_keeps_its_photos(cli, tmp_path, tiny_model, record_property):
    fault(record_property, 1)
    root = tmp_path / "Pictures"
    make_library(root, count=2)
    locked = root / "locked"
    inside = _photos(locked, 10, 500)
    cli.json("index", root, "--model", tiny_model, *TORCH)
    before = cataloged(cli.data_dir)
    assert inside <= before
    os.chmod(locked, 0o000)
    try:
        done = photofind(cli.data_dir, "index", root, *TORCH, "--json", preexec_fn=as_a_user())
        lost = rows_lost(record_property, cli.data_dir, before)
        report = index_json(done)
        assert lost == 0 and report["removed"] == 0, report
        assert report["unreachable"] == 10
        assert [f["path"] for f in report["failed"]] == [str(locked)]
        assert "could not be read" in report["failed"][0]["reason"]

        human = photofind(cli.data_dir, "index", *TORCH, preexec_fn=as_a_user())
        assert human.returncode == 0, human.stderr
        assert "0 removed" in human.stdout
        assert "10 photo(s) in folders that could not be read are kept" in human.stderr

        line = _watch_startup_line(cli.data_dir, tmp_path / "watch.log", as_a_user())
        assert "removed" not in line and "1 could not be indexed" in line, line
        assert cataloged(cli.data_dir) == before
    finally:
        os.chmod(locked, 0o755)
    again = cli.json("index", *TORCH)  # readable again: nothing to re-embed
    assert again["embedded"] == 0 and again["removed"] == 0 and again["failed"] == []
    assert check_data_dir(cli.data_dir)["paths"] == before


def test_drive_unmounted_inside_a_root_keeps_its_photos(cli, tmp_path, tiny_model,
                                                        record_property):
    fault(record_property, 2)
    need_mounts()
    root = Path(os.path.realpath(tmp_path)) / "Pictures"
    make_library(root, count=2)
    drive = root / "Drive"
    mount_tmpfs(drive)
    mounted = True
    try:
        on_drive = _photos(drive / "trip", 10, 600)
        aside = tmp_path / "aside"
        shutil.copytree(drive, aside)  # the drive's files, times kept: plugged in again later
        cli.json("index", root, "--model", tiny_model, *TORCH)
        before = cataloged(cli.data_dir)
        assert on_drive <= before

        umount(drive)
        mounted = False
        report = cli.json("index", *TORCH)
        lost = rows_lost(record_property, cli.data_dir, before)
        assert lost == 0 and report["removed"] == 0, report
        assert report["missing_roots"] == [str(drive)]
        cli("index", *TORCH)
        assert f"library folder {drive} is offline" in cli.err

        mount_tmpfs(drive)  # plugged in again
        mounted = True
        shutil.copytree(aside, drive, dirs_exist_ok=True)
        again = cli.json("index", *TORCH)
        assert again["embedded"] == 0 and again["added"] == 0 and again["removed"] == 0
        assert again["unchanged"] == len(before) and again["missing_roots"] == []
        assert check_data_dir(cli.data_dir)["paths"] == before
    finally:
        if mounted:
            umount(drive)


def test_drive_unmounted_inside_a_watched_root(data_dir, tmp_path, tiny_model,
                                               record_property):
    fault(record_property, 2)
    need_mounts()
    from watching import index_library

    root = Path(os.path.realpath(tmp_path)) / "Pictures"
    make_library(root, count=1)
    drive = root / "Drive"
    mount_tmpfs(drive)
    mounted = True
    notes: list[str] = []
    bursts: list = []
    worker = LibraryWorker(DataDir(data_dir), device="cpu", poll_roots_s=0.2,
                           on_note=notes.append, on_burst=bursts.append)
    library = Library(data_dir)
    try:
        on_drive = _photos(drive, 6, 700)
        aside = tmp_path / "aside"
        shutil.copytree(drive, aside)
        index_library(data_dir, root, tiny_model)
        before = cataloged(data_dir)
        worker.start()
        assert worker.wait_ready(120)
        wait_for(lambda: worker.is_idle(), timeout=60, what="the startup scan")

        umount(drive)
        mounted = False
        runs = len(bursts)
        worker.rescan().result(30)  # as the hourly safety rescan, or the app's "rescan"
        wait_for(lambda: len(bursts) > runs and worker.is_idle(), timeout=60,
                 what="a rescan with the drive unmounted")
        lost = rows_lost(record_property, data_dir, before)
        assert lost == 0 and on_drive <= cataloged(data_dir)
        assert bursts[-1].report.removed == 0
        wait_for(lambda: any("was unmounted" in n for n in notes), what="the unmount noticed")
        elsewhere = save(picture(710), root / "new.jpg", quality=85)  # the worker goes on
        wait_for(lambda: library.top(elsewhere) == str(elsewhere), timeout=60,
                 what="a photo added beside the unmounted drive")

        mount_tmpfs(drive)
        mounted = True
        shutil.copytree(aside, drive, dirs_exist_ok=True)
        later = save(picture(720), drive / "later.jpg", quality=85)
        wait_for(lambda: library.top(later) == str(later), timeout=60,
                 what="a photo on the drive once it is back")
        assert cataloged(data_dir) == before | {str(elsewhere), str(later)}
        assert any("is back" in n for n in notes)
    finally:
        worker.stop(30)
        library.close()
        if mounted:
            umount(drive)


def test_root_whose_drive_is_gone_keeps_its_photos_despite_a_hidden_file(
        cli, tmp_path, tiny_model, record_property):
    fault(record_property, 3)
    need_mounts()
    root = Path(os.path.realpath(tmp_path)) / "Drive"
    mount_tmpfs(root)
    mounted = True
    try:
        make_library(root, count=4)
        aside = tmp_path / "aside"
        shutil.copytree(root, aside)
        cli.json("index", root, "--model", tiny_model, *TORCH)
        before = cataloged(cli.data_dir)
        assert os.path.ismount(root)

        umount(root)
        mounted = False
        (root / ".directory").write_text("[Desktop Entry]\nIcon=drive-removable-media\n")
        report = cli.json("index", *TORCH)
        lost = rows_lost(record_property, cli.data_dir, before)
        assert lost == 0 and report["removed"] == 0, report
        assert report["missing_roots"] == [str(root)]
        assert cli.json("status")["offline_roots"] == [str(root)]

        notes: list[str] = []
        worker = LibraryWorker(DataDir(cli.data_dir), device="cpu", on_note=notes.append)
        try:
            worker.start()
            assert worker.wait_ready(120)
            time.sleep(1.0)
            assert worker.offline_roots == [str(root)]
            assert any("offline" in n for n in notes)
        finally:
            worker.stop(30)
        assert cataloged(cli.data_dir) == before

        mount_tmpfs(root)
        mounted = True
        shutil.copytree(aside, root, dirs_exist_ok=True)
        again = cli.json("index", *TORCH)
        assert again["embedded"] == 0 and again["removed"] == 0 and again["missing_roots"] == []
        assert check_data_dir(cli.data_dir)["paths"] == before
    finally:
        if mounted:
            umount(root)
