"""Handing a photo to the rest of the desktop: open it, or show it in the file manager.

photofind itself never modifies, moves or deletes a photo; these only ask the system's
default apps to show it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)
_watchers: list = []  # pending D-Bus calls, kept alive until they answer


Note = Callable[[str], None]  # tells the person what happened (the status bar)


def open_file(path: str) -> bool:
    """Open the photo in the system's default app."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str, note: Note = lambda _text: None) -> None:
    """Open the system file manager at the photo's folder, selecting the photo where the
    platform allows it; if the file manager does not answer, open the folder instead, and
    if nothing answers that either, `note` says so (now, or when the answer comes)."""
    if sys.platform in ("win32", "darwin"):
        command = (["explorer", f"/select,{os.path.normpath(path)}"] if sys.platform == "win32"
                   else ["open", "-R", path])
        try:
            subprocess.Popen(command)  # noqa: S603
            return
        except OSError as exc:
            log.info("%s failed (%s); opening the folder", command[0], exc)
    elif _show_items_dbus(path, lambda: _fall_back_to_folder(path, note)):
        return
    _fall_back_to_folder(path, note)


def _fall_back_to_folder(path: str, note: Note) -> None:
    if not _open_folder(path):
        note(no_file_manager(path))


def no_file_manager(path: str) -> str:
    return (f"No file manager answered, so photofind could not show "
            f"{os.path.basename(path)}; it is in {os.path.dirname(path)}.")


def _open_folder(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def _show_items_dbus(path: str, failed: Callable[[], None]) -> bool:
    """The freedesktop FileManager1.ShowItems call (Nautilus, Dolphin, Nemo, Thunar…),
    made asynchronously; `failed()` runs if no file manager answers. False when there is
    no session bus to ask."""
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
            failed()
        _watchers.remove(w)
        w.deleteLater()

    watcher.finished.connect(finished)
    return True


def open_photos(paths: list[str], limit: int = 10) -> str | None:
    """Open up to `limit` photos; a note for the person when one could not be opened (then
    its folder is opened instead, where a file manager answers)."""
    for path in paths[:limit]:
        if not os.path.exists(path):
            return missing(path)
        if not open_file(path):
            name = os.path.basename(path)
            if _open_folder(path):
                return f"No app is set up to open {name}; opened its folder instead."
            return (f"No app is set up to open {name}, and no file manager answered; it is "
                    f"in {os.path.dirname(path)}.")
    return None


def reveal(path: str, note: Note) -> str | None:
    """Show the photo in the file manager; a note for the person when it is gone (and,
    through `note`, when no file manager answers)."""
    if not os.path.exists(path):
        return missing(path)
    show_in_folder(path, note)
    return None


def missing(path: str) -> str:
    return f"{path} is not there any more (moved, deleted, or its drive is unplugged)."
