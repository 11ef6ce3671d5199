"""What can be dropped or pasted on the window (photo files, folders, images, paths),
the hint shown while dragging, and the window's drop and paste handling."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QRectF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QPainter,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QWidget

from photofind.core.media.decode import EXTENSIONS
from photofind.gui.tasks import run_in_background


def image_paths(urls: list[QUrl]) -> tuple[list[str], list[str]]:
    """(image files, folders) among dropped or pasted URLs."""
    files, folders = [], []
    for url in urls:
        if not url.isLocalFile():
            continue
        path = url.toLocalFile()
        if os.path.isdir(path):
            folders.append(path)
        elif os.path.splitext(path)[1].lower() in EXTENSIONS:
            files.append(path)
    return files, folders


def pasted_photos(mime: QMimeData) -> list[str]:
    """Photo files on the clipboard: as file URLs, or as a pasted path (plain or file://)."""
    files = image_paths(mime.urls())[0] if mime.hasUrls() else []
    if not files and mime.hasText():
        text = mime.text().strip().strip("'\"")
        if text.startswith("file://"):
            text = QUrl(text).toLocalFile()
        if os.path.splitext(text)[1].lower() in EXTENSIONS and os.path.isfile(text):
            files = [text]
    return files


def save_pasted_image(image: QImage, folder: Path) -> str:
    """Write a pasted image into photofind's data directory (never a library folder) so it
    can be searched with; runs on a pool thread."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
    if not image.save(str(target), "PNG"):
        raise OSError("the pasted image could not be saved")
    return str(target)


class DropHint(QWidget):
    """Shown over the window while something droppable is dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.text = ""
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        fill = QColor(highlight)
        fill.setAlpha(46)
        painter.setBrush(fill)
        painter.setPen(QPen(highlight, 3, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(2, 2, -2, -2), 16, 16)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        label = QRectF(0, 0, metrics.horizontalAdvance(self.text) + 48, metrics.height() + 24)
        label.moveCenter(QRectF(self.rect()).center())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(highlight)
        painter.drawRoundedRect(label, label.height() / 2, label.height() / 2)
        painter.setPen(self.palette().color(QPalette.ColorRole.HighlightedText))
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, self.text)


class DropAndPaste:
    """The main window's drop and paste handling: photos (files, images, paths) find
    similar ones; folders are added to the library. A mixin of `MainWindow`."""

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        files, folders = image_paths(mime.urls()) if mime.hasUrls() else ([], [])
        if files or folders or mime.hasImage():
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.drop_hint.text = ("Drop to find similar photos" if files or mime.hasImage()
                                   else "Drop to add the folder to your library")
            self.drop_hint.setGeometry(self.pages.rect().adjusted(40, 40, -40, -40))
            self.drop_hint.raise_()
            self.drop_hint.show()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_hint.hide()
        mime = event.mimeData()
        files, folders = image_paths(mime.urls()) if mime.hasUrls() else ([], [])
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if files:
            self.find_similar(files)
        elif mime.hasImage():
            self._search_pasted_image(mime.imageData())
        elif folders:
            self.add_folders(folders)

    def paste_photo(self) -> bool:
        """Ctrl+V: image files, an image, or a path to a photo → find similar. Returns False
        (so the search field pastes text) for anything else."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return False
        files = pasted_photos(mime)
        if files:
            self.find_similar(files)
            return True
        if mime.hasImage():
            self._search_pasted_image(mime.imageData())
            return True
        return False

    def _search_pasted_image(self, image) -> None:
        folder = self.data_dir.root / "pasted"
        run_in_background(lambda: save_pasted_image(image, folder),
                          lambda path: self.find_similar([path]),
                          lambda exc: self.status.set_note(str(exc)))
