"""The preview of the selected photo: a large, upright image decoded off the GUI thread,
its details (name, match score, folder, date taken, dimensions, size) and what can be
done with it."""

from __future__ import annotations

import os
from datetime import datetime

from PIL import Image
from PySide6.QtCore import QObject, QRectF, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photofind.core.errors import NotAnImage
from photofind.core.media.decode import decode, read_file
from photofind.core.search.searcher import Result
from photofind.gui import icons


def load_image(path: str, max_side: int) -> QImage:
    """Decode `path` upright (EXIF orientation) at no more than `max_side` pixels on its
    longest side. Runs on a pool thread: QImage, unlike QPixmap, may be made there."""
    image = decode(read_file(path), max_side).image
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    data = image.tobytes()
    qimage = QImage(data, image.width, image.height, 3 * image.width,
                    QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels; `data` goes away with this frame


class _Signals(QObject):
    loaded = Signal(int, QImage)
    failed = Signal(int, str)


class _Job(QRunnable):
    def __init__(self, token: int, path: str, max_side: int, signals: _Signals) -> None:
        super().__init__()
        self.token, self.path, self.max_side, self.signals = token, path, max_side, signals

    def run(self) -> None:
        try:
            image = load_image(self.path, self.max_side)
        except (NotAnImage, OSError) as exc:
            self.signals.failed.emit(self.token, str(exc))
        except Exception as exc:
            self.signals.failed.emit(self.token, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.loaded.emit(self.token, image)


class ImageView(QWidget):
    """Shows one image fitted into the widget, sharp at the screen's pixel ratio; decoding
    happens elsewhere (`show_path`), this only scales and paints."""

    loaded = Signal(str)  # path, when its image arrived

    MAX_UPSCALE = 2.0  # small photos are shown larger, but not blown up beyond this

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None,
                 follow_width: bool = False) -> None:
        super().__init__(parent)
        self.pool = pool
        self.follow_width = follow_width  # height follows the width and the photo's shape
        self.path: str | None = None
        self.message = ""
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None
        self._token = 0
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)
        vertical = (QSizePolicy.Policy.Preferred if follow_width
                    else QSizePolicy.Policy.Expanding)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, vertical)
        policy.setHeightForWidth(follow_width)
        self.setSizePolicy(policy)
        self.setMinimumSize(120, 120)
        self._aspect = 0.75  # height / width of the photo shown (until it arrives)

    def hasHeightForWidth(self) -> bool:
        return self.follow_width

    def heightForWidth(self, width: int) -> int:
        return max(120, min(int(width * self._aspect), int(width * 1.4)))

    def set_aspect(self, width: int | None, height: int | None) -> None:
        """The shape of the photo about to be shown, so the layout is right before it loads."""
        if width and height:
            self._aspect = height / width
            self.updateGeometry()

    def show_path(self, path: str | None, max_side: int = 1600) -> None:
        self._token += 1
        self.path = path
        self._image = self._scaled = None
        self.message = "Loading…" if path else ""
        if path:
            self.pool.start(_Job(self._token, path, max_side, self._signals))
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    @Slot(int, QImage)
    def _on_loaded(self, token: int, image: QImage) -> None:
        if token != self._token:
            return  # the selection moved on meanwhile
        self._image, self._scaled, self.message = image, None, ""
        self.set_aspect(image.width(), image.height())
        self.update()
        self.loaded.emit(self.path or "")

    @Slot(int, str)
    def _on_failed(self, token: int, reason: str) -> None:
        if token == self._token:
            self.message = f"This photo cannot be shown: {reason}"
            self.update()

    def resizeEvent(self, event) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self._image is None:
            if self.message:
                painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                                 Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 self.message)
            return
        ratio = self.devicePixelRatioF()
        box = QSize(int(self.width() * ratio), int(self.height() * ratio))
        if self._scaled is None:
            image = self._image
            limit = QSize(int(image.width() * self.MAX_UPSCALE),
                          int(image.height() * self.MAX_UPSCALE))
            target = image.size().scaled(box.boundedTo(limit) if image.width() < box.width()
                                         and image.height() < box.height() else box,
                                         Qt.AspectRatioMode.KeepAspectRatio)
            self._scaled = QPixmap.fromImage(image if target == image.size() else image.scaled(
                target, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        w, h = self._scaled.width() / ratio, self._scaled.height() / ratio
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        painter.drawPixmap(target, self._scaled, QRectF(self._scaled.rect()))


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def human_date(taken: str | None) -> str:
    if not taken:
        return "—"
    try:
        when = datetime.fromisoformat(taken)
        return f"{when.day} {when:%B %Y, %H:%M}"
    except ValueError:
        return taken


class PreviewPane(QWidget):
    """The side panel for the selected result."""

    open_requested = Signal(str)
    show_in_folder_requested = Signal(str)
    find_similar_requested = Signal(list)

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: Result | None = None
        self.image = ImageView(pool, follow_width=True)
        self.name = QLabel()
        self.name.setWordWrap(True)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.name.setFont(font)
        self.folder, self.taken, self.dimensions, self.size = (QLabel() for _ in range(4))
        self.match = QLabel()
        self.match.setToolTip("How closely the photo matches the search (cosine similarity "
                              "of the model's vectors): higher is closer, best first")
        self.folder.setWordWrap(True)
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details = QFormLayout()
        details.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        details.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in (("Match", self.match), ("Folder", self.folder),
                              ("Taken", self.taken), ("Size", self.dimensions),
                              ("File", self.size)):
            caption = QLabel(label)
            caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            details.addRow(caption, widget)
        self.open_button = QPushButton("Open")
        self.folder_button = QPushButton("Show in folder")
        self.similar_button = QPushButton("Find similar")
        for button, name in ((self.open_button, "open"), (self.folder_button, "folder"),
                             (self.similar_button, "similar")):
            icons.bind(button, name)
        self.open_button.clicked.connect(lambda: self._emit(self.open_requested))
        self.folder_button.clicked.connect(lambda: self._emit(self.show_in_folder_requested))
        self.similar_button.clicked.connect(
            lambda: self.result and self.find_similar_requested.emit([self.result.path]))
        buttons = QHBoxLayout()
        for button in (self.open_button, self.folder_button, self.similar_button):
            buttons.addWidget(button)
        self.offline = QLabel("This photo is on a drive that is offline. Connect the drive "
                              "to open it or show it in its folder.")
        self.offline.setWordWrap(True)
        self.offline.setStyleSheet("QLabel { background: palette(alternate-base); "
                                   "border-radius: 4px; padding: 6px; }")
        self.offline.hide()
        self.empty = QLabel("Select a photo to see it here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.image)
        body.addSpacing(8)
        body.addWidget(self.name)
        body.addWidget(self.offline)
        body.addLayout(details)
        body.addSpacing(6)
        body.addLayout(buttons)
        body.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.empty)
        layout.addWidget(self.body)
        self.show_result(None)

    def _emit(self, signal) -> None:
        if self.result is not None:
            signal.emit(self.result.path)

    def show_result(self, result: Result | None) -> None:
        self.result = result
        self.empty.setVisible(result is None)
        self.body.setVisible(result is not None)
        if result is None:
            self.image.show_path(None)
            return
        self.name.setText(os.path.basename(result.path))
        self.match.setText("—" if result.score is None else f"{result.score:.3f}")
        online = getattr(result, "online", True)
        self.offline.setVisible(not online)
        self.folder.setText(os.path.dirname(result.path))
        self.taken.setText(human_date(result.taken))
        self.dimensions.setText(f"{result.width} × {result.height} pixels"
                                if result.width and result.height else "—")
        fmt = f"{result.format}, " if result.format else ""
        self.size.setText(f"{fmt}{human_size(result.size)}")
        ratio = self.devicePixelRatioF()
        self.image.set_aspect(result.width, result.height)
        self.image.show_path(result.path, int(max(self.image.width(), 480) * ratio * 1.5))

    def sizeHint(self) -> QSize:
        return QSize(340, 500)


class LargePreview(QWidget):
    """The selected photo as large as the window allows (Space toggles it)."""

    closed = Signal()
    step = Signal(int)  # -1 previous, +1 next
    open_requested = Signal()

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = ImageView(pool)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("← → previous / next · Enter opens · Space or Esc goes back")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)
        layout.addWidget(hint)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def show_result(self, result: Result | None) -> None:
        if result is None:
            self.caption.setText("")
            self.image.show_path(None)
            return
        self.caption.setText(f"<b>{os.path.basename(result.path)}</b> — "
                             f"{os.path.dirname(result.path)}")
        ratio = self.devicePixelRatioF()
        side = max(self.width(), self.height(), 1024)
        self.image.show_path(result.path, int(min(side * ratio, 4096)))

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Space, Qt.Key.Key_Escape):
            self.closed.emit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.step.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.step.emit(1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_requested.emit()
        else:
            super().keyPressEvent(event)
