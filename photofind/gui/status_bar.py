"""The status bar: how many photos, indexing progress with pause/resume, failed files."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QToolButton, QWidget

from photofind.gui import icons
from photofind.gui.index_worker import IndexStatus


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{max(seconds, 1)} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(status: IndexStatus) -> str:
    if status.stage == "model":
        if status.done:  # bytes fetched so far
            return f"Fetching the model {status.model}: {status.done / 1e6:,.0f} MB so far…"
        return f"Loading the model {status.model}…"
    if status.stage == "demo":
        return f"Writing {status.total} demo photos…"
    if status.paused and not status.total:
        return "Updating the library is paused"
    if status.stage == "scanning":
        return "Looking for new and changed photos…"
    if status.stage == "saving":
        return "Saving the index…"
    if status.stage == "indexing":
        text = f"Indexing {status.done:,} of {status.total:,}"
        if status.paused:
            return f"{text} · paused"
        if status.rate > 0:
            text += f" · {status.rate:.1f} photos/s"
            if status.eta is not None and status.done < status.total:
                text += f" · about {duration(status.eta)} left"
        return text
    return ""


class StatusBar(QStatusBar):
    pause_toggled = Signal(bool)  # True: pause
    stop_clicked = Signal()
    failures_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.count = QLabel()
        self.count.setContentsMargins(6, 0, 6, 0)
        self.selection = QLabel()  # "3 selected", when several photos are
        self.selection.setContentsMargins(0, 0, 6, 0)
        self.selection.hide()
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)  # a long note takes a second line, never cut off
        self.note.setMinimumWidth(120)
        self.progress_label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.pause_button = QToolButton()
        self.pause_button.setAutoRaise(True)
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QToolButton()
        self.stop_button.setAutoRaise(True)
        icons.bind(self.stop_button, "close")
        self.stop_button.setToolTip("Cancel")
        self.stop_button.clicked.connect(self.stop_clicked)
        self.failures = QPushButton()
        self.failures.setFlat(True)
        icons.bind(self.failures, "warning")
        self.failures.setCursor(Qt.CursorShape.PointingHandCursor)
        self.failures.setToolTip("Show the files photofind could not read, and why")
        self.failures.clicked.connect(self.failures_clicked)
        self.addWidget(self.count)
        self.addWidget(self.selection)
        self.addWidget(self.note, 1)
        for widget in (self.progress_label, self.bar, self.pause_button, self.stop_button,
                       self.failures):
            self.addPermanentWidget(widget)
        edge = QWidget()
        edge.setFixedWidth(6)  # keep the last button off the window's edge
        self.addPermanentWidget(edge)
        icons.bind(self.pause_button,
                   lambda: "play" if self.pause_button.isChecked() else "pause")
        self._set_pause_icon(False)
        self.set_progress(IndexStatus("done"))
        self.set_failures(0)

    def set_library(self, photos: int, offline: int = 0, failed: int = 0) -> None:
        text = f"{photos:,} photo{'s' if photos != 1 else ''}"
        if offline:
            text += f" · {offline} folder{'s' if offline > 1 else ''} offline"
        self.count.setText(text)
        self.set_failures(failed)

    def set_selection(self, selected: int) -> None:
        self.selection.setText(f"· {selected:,} selected")
        self.selection.setVisible(selected > 1)

    def set_failures(self, failed: int) -> None:
        self.failures.setText(f"{failed:,} file{'s' if failed != 1 else ''} could not be read")
        self.failures.setVisible(failed > 0)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setToolTip(text)

    def set_progress(self, status: IndexStatus) -> None:
        active = status.stage != "done"
        for widget in (self.progress_label, self.bar):
            widget.setVisible(active)
        self.stop_button.setVisible(status.stage == "model")
        self.pause_button.setVisible(status.stage in ("indexing", "scanning") or status.paused)
        if status.paused != self.pause_button.isChecked():
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(status.paused)
            self.pause_button.blockSignals(False)
            self._set_pause_icon(status.paused)
        self.progress_label.setText(progress_text(status))
        if status.stage == "indexing" and status.total:
            self.bar.setRange(0, status.total)
            self.bar.setValue(status.done)
        elif status.paused:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
        else:
            self.bar.setRange(0, 0)  # busy, no known total
        self.stop_button.setToolTip("Cancel loading the model")
        if not active:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.blockSignals(False)
            self._set_pause_icon(False)

    def _pause_toggled(self, paused: bool) -> None:
        self._set_pause_icon(paused)
        self.pause_toggled.emit(paused)

    def _set_pause_icon(self, paused: bool) -> None:
        self.pause_button.setIcon(icons.icon("play" if paused else "pause"))
        self.pause_button.setToolTip("Resume indexing" if paused else "Pause indexing")
