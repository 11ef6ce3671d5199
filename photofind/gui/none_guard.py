"""A guard against a PySide6 bug that would abort the app after enough painting.

PySide6 6.12.0 on Python 3.11 returns `None` from void methods (QPainter.setPen,
QLabel.setText, …) without taking a reference to it, so every call drops one reference
that was never taken; once None's count reaches zero Python aborts ("Fatal Python
error: none_dealloc"). Measured: each painted grid cell costs 7-8 references, and a
window showing the timeline aborted after a few seconds of typing. Methods returning a
bool do the same to True and False (bench/gui_timeline.py aborted with bool_dealloc).
From Python 3.12 on these objects are immortal and nothing happens. Until a PySide6
release fixes it, the window gives them back the references they lost whenever they run
low (twice a second).
"""

from __future__ import annotations

import ctypes
import sys

FLOOR = 1_000_000  # below this many references, give None back what it lost
TOP_UP = 10_000_000


def needed() -> bool:
    return sys.version_info < (3, 12) and sys.implementation.name == "cpython"


def top_up() -> None:
    """Add references to None's (and True's, False's: bool-returning methods drop theirs
    too) count; CPython keeps it in the object's first field."""
    for obj in (None, True, False):
        if sys.getrefcount(obj) < FLOOR:
            ctypes.c_ssize_t.from_address(id(obj)).value += TOP_UP


def start(parent) -> None:
    """Keep None's reference count far from zero while `parent` (a QObject) lives."""
    if not needed():
        return
    from PySide6.QtCore import QTimer

    top_up()
    timer = QTimer(parent)
    timer.setInterval(500)
    timer.timeout.connect(top_up)
    timer.start()
