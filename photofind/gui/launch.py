"""Handing a photo to the rest of the desktop: open it, or show it in the file manager.

photofind itself never modifies, moves or deletes a photo; these only ask the system's
default apps to show it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)
_watchers: list = []  # pending D-Bus calls, kept alive until they answer


def open_file(path: str) -> bool:
    """Open the photo in the system's default app."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str) -> None:
    """Open the system file manager at the photo's folder, selecting the photo where the
    platform allows it."""
    if sys.platform == "win32":
        subprocess.Popen(["explorer", f"/select,{os.path.normpath(path)}"])  # noqa: S603
    elif sys.platform == "darwin":
        subprocess.Popen(["open", "-R", path])  # noqa: S603, S607
    elif not _show_items_dbus(path):
        _open_folder(path)


def _open_folder(path: str) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def _show_items_dbus(path: str) -> bool:
    """The freedesktop FileManager1.ShowItems call (Nautilus, Dolphin, Nemo, Thunar…),
    made asynchronously; if it fails, the folder is opened instead."""
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusPendingCallWatcher
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    message = QDBusMessage.createMethodCall(
        "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
        "org.freedesktop.FileManager1", "ShowItems")
    message.setArguments([[QUrl.fromLocalFile(path).toString()], ""])
    pending = bus.asyncCall(message, 5000)
    watcher = QDBusPendingCallWatcher(pending)
    _watchers.append(watcher)

    def finished(w: QDBusPendingCallWatcher) -> None:
        if w.isError():
            log.info("FileManager1.ShowItems failed (%s); opening the folder", w.error().message())
            _open_folder(path)
        _watchers.remove(w)
        w.deleteLater()

    watcher.finished.connect(finished)
    return True


def open_photos(paths: list[str], limit: int = 10) -> str | None:
    """Open up to `limit` photos; a note for the person when one could not be opened."""
    for path in paths[:limit]:
        if not os.path.exists(path):
            return missing(path)
        if not open_file(path):
            return f"No app is set up to open {os.path.basename(path)}."
    return None


def reveal(path: str) -> str | None:
    """Show the photo in the file manager; a note for the person when it is gone."""
    if not os.path.exists(path):
        return missing(path)
    show_in_folder(path)
    return None


def missing(path: str) -> str:
    return f"{path} is not there any more (moved, deleted, or its drive is unplugged)."
