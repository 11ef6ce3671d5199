"""Helpers for the attack tests (issue 17): file systems mounted and unmounted at chosen
moments, a child process that file permissions apply to even as root, and the counts the
fault benchmark reads back (`bench/faults.py`: faults tried, survived, rows lost).

Every attack test records `fault` (the issue's item number) with pytest's
`record_property`; the ones about catalog rows also record `rows_lost`: photos still on
disk that the catalog no longer holds after the attack.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from photofind.core.store.catalog import Catalog


def can_mount() -> bool:
    """Mounting needs root (CAP_SYS_ADMIN) on Linux, as in CI's container."""
    return sys.platform.startswith("linux") and os.geteuid() == 0 \
        and not os.environ.get("FAULTKIT_NO_MOUNT")


def need_mounts() -> None:
    if not can_mount():
        pytest.skip("mounting a file system needs root on Linux (CAP_SYS_ADMIN); this one "
                    "runs where the fault suite runs as root, as in CI")


def mount_tmpfs(folder: Path, size_kb: int = 16 * 1024) -> None:
    """A fresh tmpfs at `folder`: a drive plugged in there."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs",
                    str(folder)], check=True, capture_output=True)


def umount(folder: Path) -> None:
    """The drive at `folder` unplugged (lazily, as a desktop does when files are open)."""
    subprocess.run(["umount", "-l", str(folder)], check=True, capture_output=True)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True,
                   capture_output=True)


def as_a_user():
    """A preexec_fn: as root, drop the capabilities that let root read and write anything
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so file permissions apply to the child as to
    any user (as root, `chmod 000` stops nobody); as another user, nothing to do."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for cap in (1, 2):  # PR_CAPBSET_DROP = 24
            if libc.prctl(24, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    return drop


def cataloged(data_dir: Path) -> set[str]:
    catalog = Catalog.open_for_reading(Path(data_dir) / "catalog.db")
    if catalog is None:
        return set()
    try:
        return {p for (p,) in catalog.conn.execute("SELECT path FROM photos")}
    finally:
        catalog.close()


def rows_lost(record_property, data_dir: Path, still_there: set[str]) -> int:
    """Photos in `still_there` (on disk, if perhaps unreachable now) missing from the
    catalog; recorded for the fault benchmark before any assertion can stop the test."""
    lost = len(set(still_there) - cataloged(data_dir))
    record_property("rows_lost", lost)
    return lost


def fault(record_property, number: int) -> None:
    record_property("fault", number)
