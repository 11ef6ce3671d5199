"""The results grid (a QListView in icon mode: only visible cells are painted, so 10,000
results cost no more than 40) and the plain-words page shown instead when there is
nothing to show."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPalette, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class ResultsView(QListView):
    zoom_step = Signal(int)  # +1 larger, -1 smaller (Ctrl + wheel)
    space_pressed = Signal()
    open_pressed = Signal()
    copy_pressed = Signal()
    escape_pressed = Signal()
    up_from_top = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # List mode flowing left to right and wrapping, on a fixed grid: the cells of icon
        # mode, but its layout is arithmetic on the grid (icon mode placed every item in a
        # tree again on each appended page: 0.4 s at 100,000 photos)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.verticalScrollBar().setSingleStep(24)
        self.banner = QLabel(self)  # "No good matches for …", above the cells
        self.banner.setWordWrap(True)
        self.banner.setContentsMargins(12, 8, 12, 8)
        font = self.banner.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.banner.setFont(font)
        self.banner.hide()

    def set_banner(self, text: str) -> None:
        """A line above the results (empty: none)."""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))
        height = self.banner.heightForWidth(max(100, self.width())) if text else 0
        self.setViewportMargins(0, max(0, height), 0, 0)
        self.banner.setGeometry(0, 0, self.width(), max(0, height))

    def set_cell(self, size: QSize) -> None:
        """Cells of at least `size`, widened so that the columns fill the width evenly."""
        self._cell = size
        self._justify()
        self.verticalScrollBar().setSingleStep(max(24, size.height() // 4))

    def _justify(self) -> None:
        cell = getattr(self, "_cell", None)
        if cell is None:
            return
        # the width with the scroll bar shown, whether or not it is: the columns (and the
        # rows headers and the divider fill) do not change when a scroll bar comes or goes
        bar = self.verticalScrollBar()
        width = self.viewport().width() - (0 if bar.isVisible() else bar.sizeHint().width())
        width = max(1, width - 2)
        columns = max(1, width // max(1, cell.width()))
        grid = QSize(max(cell.width(), width // columns), cell.height())
        if grid != self.gridSize():
            self.setGridSize(grid)
        model = self.model()
        if hasattr(model, "set_columns"):  # headers and the divider fill whole rows
            model.set_columns(columns)

    def updateGeometries(self) -> None:
        super().updateGeometries()
        self._justify()  # the viewport changed (a scroll bar came or went)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.banner.isVisible():
            self.set_banner(self.banner.text())
        self._justify()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.zoom_step.emit(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.modifiers():
            self.space_pressed.emit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_pressed.emit()
        elif event.matches(QKeySequence.StandardKey.Copy):
            self.copy_pressed.emit()
        elif key == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
        elif key == Qt.Key.Key_Up and self.currentIndex().row() < self._columns():
            self.up_from_top.emit()
        else:
            super().keyPressEvent(event)

    def moveCursor(self, action, modifiers):
        """Arrow keys step over date headers, the divider and the empty cells around them."""
        index = super().moveCursor(action, modifiers)
        model = self.model()
        if not index.isValid() or not hasattr(model, "result") or model.result(index.row()):
            return index
        A = QAbstractItemView.CursorAction
        back = action in (A.MoveLeft, A.MoveUp, A.MovePageUp, A.MovePrevious, A.MoveHome)
        step = -1 if back else 1
        row = index.row()
        if action in (A.MoveUp, A.MoveDown):  # the same column, a row further
            row = self.currentIndex().row() + step * self._columns()
            while 0 <= row < model.rowCount() and model.result(row) is None:
                row += step * self._columns()
            if not 0 <= row < model.rowCount():
                row = index.row()
        while 0 <= row < model.rowCount() and model.result(row) is None:
            row += step
        return model.index(row) if 0 <= row < model.rowCount() else self.currentIndex()

    def _columns(self) -> int:
        grid = self.gridSize().width() or 1
        return max(1, self.viewport().width() // grid)


class MessagePage(QWidget):
    """A title, a line or two of plain words, and at most one button."""

    action = Signal(str)  # the button's key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        for label in (self.title, self.body):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton()
        self.button.clicked.connect(lambda: self.action.emit(self._key))
        self._key = ""
        # The labels fill a column (no alignment flag: an aligned widget gets its size
        # hint's width, a wrapped label's guess, and one line of height, which cut the
        # text off); the column is at most 620 px wide and stands in the middle.
        column = QWidget()
        column.setMaximumWidth(620)
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(0)
        inner.addWidget(self.title)
        inner.addSpacing(6)
        inner.addWidget(self.body)
        inner.addSpacing(10)
        inner.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 100)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addStretch(2)
        layout.addLayout(row)
        layout.addStretch(3)

    def show_message(self, title: str, body: str = "", button: str = "", key: str = "") -> None:
        self.title.setText(title)
        self.body.setText(body)
        self.body.setVisible(bool(body))
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self._key = key
