"""The first run: pick the folders that hold your photos (Pictures preselected) and
start; or try the demo library. When the model cannot be had, say so and offer the demo."""

from __future__ import annotations

import os

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from photofind.gui import icons


def model_reason(message: str) -> str:
    """The core's reason a model cannot be had, without its command-line advice
    ("…; connect … (--model local-dir:…)"): which model, and what is wrong with it."""
    first = message.split("; ")[0].strip().rstrip(".")
    return (first[:1].upper() + first[1:] + ".") if first else ""


def pictures_folder() -> str | None:
    path = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return path if path and os.path.isdir(path) else None


class WelcomePage(QWidget):
    start = Signal(list)  # folders
    demo = Signal()
    settings = Signal()  # the model problem's Settings button

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Welcome to photofind")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        intro = QLabel(
            "photofind finds photos in your own folders by what they show: type “birthday "
            "cake” or drop a photo on the window. Choose the folders that hold your photos. "
            "photofind indexes them on this computer; nothing leaves it, and your photos are "
            "never changed, moved or deleted.")
        intro.setWordWrap(True)
        self.folders_list = QListWidget()
        self.folders_list.setMinimumHeight(90)
        self.folders_list.setMaximumHeight(170)
        self.add_button = QPushButton("&Add folder…")
        icons.bind(self.add_button, "folder")
        self.add_button.clicked.connect(self._choose)
        self.start_button = QPushButton("&Start indexing")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)
        self.folders_list.itemChanged.connect(self._update)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        row.addWidget(self.start_button)

        self.problem = QFrame()
        self.problem.setFrameShape(QFrame.Shape.StyledPanel)
        self.problem.setAutoFillBackground(True)
        self.problem.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        warning = QLabel()
        icons.bind(warning, "warning", icons.pixmap_of(28))
        warning.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.problem_title = QLabel()
        self.problem_title.setWordWrap(True)
        self.problem_text = QLabel()
        self.problem_text.setWordWrap(True)
        self.problem_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_details = QLabel()
        self.problem_details.setWordWrap(True)
        self.problem_details.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.problem_details.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        small = self.problem_details.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.problem_details.setFont(small)
        self.problem_settings = QPushButton("Settings…")
        icons.bind(self.problem_settings, "settings")
        self.problem_settings.setToolTip("Choose another model, such as a model folder on "
                                         "this computer")
        self.problem_settings.clicked.connect(self.settings)
        problem_body = QVBoxLayout()
        problem_body.addWidget(self.problem_title)
        problem_body.addWidget(self.problem_text)
        problem_body.addWidget(self.problem_details)
        problem_body.addWidget(self.problem_settings, 0, Qt.AlignmentFlag.AlignLeft)
        problem = QHBoxLayout(self.problem)
        problem.addWidget(warning, 0, Qt.AlignmentFlag.AlignTop)
        problem.addLayout(problem_body, 1)
        self.problem.hide()

        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status.setWordWrap(True)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        demo_text = QLabel("No photos at hand, or no network to fetch the model? The demo "
                           "library is 300 made-up scenes of coloured shapes, indexed with a "
                           "small model that ships with photofind.")
        demo_text.setWordWrap(True)
        demo_text.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.demo_button = QPushButton("Try the &demo library")
        self.demo_button.clicked.connect(self.demo)
        demo_row = QHBoxLayout()
        demo_row.addWidget(demo_text, 1)
        demo_row.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignVCenter)

        column = QWidget()
        column.setMaximumWidth(640)
        layout = QVBoxLayout(column)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(QLabel("<b>Your photo folders</b>"))
        layout.addWidget(self.folders_list)
        layout.addLayout(row)
        layout.addWidget(self.problem)
        layout.addWidget(self.status)
        layout.addSpacing(10)
        layout.addWidget(line)
        layout.addLayout(demo_row)
        row_layout = QHBoxLayout()
        row_layout.addStretch(1)
        row_layout.addWidget(column, 4)
        row_layout.addStretch(1)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(24, 24, 24, 24)
        outer.addStretch(1)
        outer.addLayout(row_layout)
        outer.addStretch(2)
        # In a small window the page scrolls rather than squeezing its text.
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page = QVBoxLayout(self)
        page.setContentsMargins(0, 0, 0, 0)
        page.addWidget(scroll)

        pictures = pictures_folder()
        if pictures:
            self.add_folder(pictures)
        self._update()

    def add_folder(self, path: str, checked: bool = True) -> None:
        for row in range(self.folders_list.count()):
            if self.folders_list.item(row).data(Qt.ItemDataRole.UserRole) == path:
                return
        item = QListWidgetItem(icons.icon("folder"), path)
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.folders_list.addItem(item)
        self._update()

    def folders(self) -> list[str]:
        chosen = []
        for row in range(self.folders_list.count()):
            item = self.folders_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                chosen.append(item.data(Qt.ItemDataRole.UserRole))
        return chosen

    def show_problem(self, message: str, offer_settings: bool = False, title: str = "",
                     details: str = "") -> None:
        self.problem_title.setText(f"<b>{title}</b>" if title else "")
        self.problem_title.setVisible(bool(title))
        self.problem_text.setText(message)
        self.problem_details.setText(details)
        self.problem_details.setVisible(bool(details))
        self.problem_settings.setVisible(offer_settings)
        self.problem.show()
        self.set_busy(False)

    def show_model_problem(self, message: str) -> None:
        """The model cannot be loaded (most often: not downloaded yet, and no network).
        `message` is the core's reason; only its first part (which model, what is wrong)
        is shown: the rest is advice for the command line."""
        self.show_problem(
            "photofind needs an image-recognition model to index your photos. It is not on "
            "this computer and could not be downloaded. Connect to the internet once and "
            "press Start indexing again, or choose a model folder on this computer in "
            "Settings. The demo library below works without a network.",
            offer_settings=True, title="The model could not be loaded",
            details=model_reason(message))

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.status.setText(text)
        for widget in (self.add_button, self.demo_button, self.problem_settings,
                       self.folders_list):
            widget.setEnabled(not busy)
        self._update(busy=busy)

    def _update(self, *_args, busy: bool = False) -> None:
        self.start_button.setEnabled(bool(self.folders()) and not busy)

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of photos")
        if folder:
            self.add_folder(folder)

    def _start(self) -> None:
        folders = self.folders()
        if folders:
            self.problem.hide()
            self.start.emit(folders)
