"""The bar at the top: the search field, the chip naming the image a find-similar search
started from, the zoom slider, the Library and Settings buttons and the ≡ menu."""

from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QToolButton,
    QWidget,
)

from photofind.gui import icons
from photofind.gui.prefs import ZOOM_MAX, ZOOM_MIN
from photofind.gui.thumbnail_loader import ThumbnailLoader

PLACEHOLDER = "Describe what the photo shows — “kids on a red sled” — or drop a photo here"
PLACEHOLDER_SIMILAR = "Type to search by words instead"
CHIP_NAME_CHARS = 28
FIELD_MIN_WIDTH = 260  # "Describe what the photo shows" stays readable
NARROW = 760  # below this width the zoom slider makes way for the search field


class SearchField(QLineEdit):
    escape = Signal()
    down = Signal()
    paste_requested = Signal()  # Ctrl+V: the window decides whether it is a photo

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(PLACEHOLDER)
        self.setClearButtonEnabled(True)
        search = self.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        icons.bind(search, "search")
        self.setMinimumHeight(36)
        self.setMinimumWidth(FIELD_MIN_WIDTH)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.setFont(font)
        self.photo_paste_handler = None  # set by the window: returns True when it took a photo
        self.setAcceptDrops(False)  # a photo dropped here is a find-similar for the window

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escape.emit()
            return
        if event.key() == Qt.Key.Key_Down:
            self.down.emit()
            return
        if event.matches(QKeySequence.StandardKey.Paste) and self.photo_paste_handler:
            if self.photo_paste_handler():
                return
        super().keyPressEvent(event)


class QueryChip(QFrame):
    """“Similar to beach.jpg ×”: which image(s) the results are similar to."""

    cleared = Signal()
    shown = Signal(bool)

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.paths: list[str] = []
        self.compact = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.thumb = QLabel()
        self.thumb.setFixedSize(32, 32)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel()
        self.close_button = QToolButton()
        icons.bind(self.close_button, "close")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Clear: back to searching by text (Esc)")
        self.close_button.clicked.connect(self.cleared)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        layout.setSpacing(6)
        layout.addWidget(self.thumb)
        layout.addWidget(self.label)
        layout.addWidget(self.close_button)
        loader.ready.connect(self._thumbnail_ready)
        self.hide()

    def set_paths(self, paths: list[str]) -> None:
        self.paths = list(paths)
        self.shown.emit(bool(paths))
        if not paths:
            self.hide()
            return
        self._set_label()
        self.setToolTip("\n".join(paths))
        self.thumb.clear()
        self._thumbnail_ready(paths[0])
        self.show()

    def set_compact(self, compact: bool) -> None:
        """In a narrow window: only the (shorter) name, so the search field keeps room."""
        if compact != self.compact:
            self.compact = compact
            self._set_label()

    def _set_label(self) -> None:
        if not self.paths:
            return
        name = os.path.basename(self.paths[0])
        limit = CHIP_NAME_CHARS // 2 if self.compact else CHIP_NAME_CHARS
        if len(name) > limit:  # the start of a name says most; the whole is in the tooltip
            name = name[:limit - 1] + "…"
        more = len(self.paths) - 1
        if self.compact:
            self.label.setText(f"<b>{_escape(name)}</b>" + (f" +{more}" if more else ""))
        else:
            self.label.setText(f"Similar to <b>{_escape(name)}</b>"
                               + (f" and {more} more" if more else ""))

    def _thumbnail_ready(self, path: str) -> None:
        if not self.paths or path != self.paths[0]:
            return
        ratio = self.devicePixelRatioF()
        side = int(32 * ratio)
        pixmap = self.loader.fitted(path, 128, QSize(side, side))
        if pixmap is not None:
            pixmap = pixmap.copy()
            pixmap.setDevicePixelRatio(ratio)
            self.thumb.setPixmap(pixmap)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SearchBar(QWidget):
    library_clicked = Signal()
    settings_clicked = Signal()

    def __init__(self, loader: ThumbnailLoader, zoom: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = SearchField()
        self.chip = QueryChip(loader)
        self.chip.shown.connect(lambda on: self.field.setPlaceholderText(
            PLACEHOLDER_SIMILAR if on else PLACEHOLDER))
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(ZOOM_MIN, ZOOM_MAX)
        self.zoom.setValue(zoom)
        self.zoom.setFixedWidth(120)
        self.zoom.setToolTip("Thumbnail size (Ctrl + mouse wheel)")
        small, large = QLabel(), QLabel()
        icons.bind(small, "photo", icons.pixmap_of(14))
        icons.bind(large, "photo", icons.pixmap_of(22))
        self.zoom_widgets = (small, self.zoom, large)  # Ctrl + wheel zooms when hidden
        self.library_button = self._tool("folder", "Library folders…", self.library_clicked)
        self.settings_button = self._tool("settings", "Settings…", self.settings_clicked)
        self.menu_button = QToolButton()  # ≡: the window gives it its menu
        icons.bind(self.menu_button, "menu")
        self.menu_button.setIconSize(QSize(22, 22))
        self.menu_button.setToolTip("Menu: library, settings, help, about, quit")
        self.menu_button.setAutoRaise(True)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.chip)
        layout.addSpacing(8)
        layout.addWidget(small)
        layout.addWidget(self.zoom)
        layout.addWidget(large)
        layout.addSpacing(8)
        layout.addWidget(self.library_button)
        layout.addWidget(self.settings_button)
        layout.addWidget(self.menu_button)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        narrow = event.size().width() < NARROW
        for widget in self.zoom_widgets:
            widget.setVisible(not narrow)
        self.chip.set_compact(narrow)

    def _tool(self, name: str, tip: str, signal) -> QToolButton:
        button = QToolButton()
        icons.bind(button, name)
        button.setIconSize(QSize(22, 22))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(signal)
        return button
