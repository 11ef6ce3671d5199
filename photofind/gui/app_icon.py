"""The application's icon, read from the shipped resources (photofind.resources) through
importlib.resources, so it works from a source checkout, an installed wheel and the
PyInstaller bundle alike."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon, QPixmap

from photofind.desktop import ICON_SIZES, icon_png

log = logging.getLogger(__name__)


def app_icon() -> QIcon:
    """photofind's icon at every size it ships; an empty icon (and a log line) if the
    resources are missing, which only costs the window its icon."""
    icon = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap()
        try:
            loaded = pixmap.loadFromData(icon_png(size).read_bytes(), "PNG")
        except (OSError, ModuleNotFoundError) as exc:
            log.warning("cannot read the application icon: %s", exc)
            return QIcon()
        if loaded:
            icon.addPixmap(pixmap)
        else:
            log.warning("the %d px application icon is not a readable PNG", size)
    return icon
