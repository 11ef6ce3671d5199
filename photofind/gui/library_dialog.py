"""The Library dialog: the folders photofind indexes, each with its photo count and
whether it is online; add and remove folders. And the list of files that failed."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photofind.core.search.status import folders
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.gui.tasks import run_in_background


def root_rows(data_dir: DataDir) -> list[tuple[str, int, bool]]:
    """(folder, photo count, online) for each library root; runs on a pool thread."""
    return [(f["path"], f["photos"], f["online"]) for f in folders(data_dir)]


def failure_rows(data_dir: DataDir) -> list[tuple[str, str]]:
    catalog = Catalog.open_for_reading(data_dir.catalog)
    if catalog is None:
        return []
    try:
        return catalog.failures()
    finally:
        catalog.close()


def ask_about_demo_model(parent: QWidget, folders: list[str]) -> str:
    """Adding your own folder to a library that uses the demo model: say what that means,
    and offer the standard model. "switch", "add" (with the demo model) or "" (cancel)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("This library uses the demo model")
    names = ", ".join(os.path.basename(f.rstrip(os.sep)) or f for f in folders)
    box.setText(f"The demo model knows only the demo's coloured shapes: the photos in "
                f"{names} would be indexed with it, and searching them by what they show "
                "would not work.")
    box.setInformativeText("Switch this library to the standard model (fetched once from "
                           "the internet; the demo photos are indexed again with it), or add "
                           "the folder with the demo model anyway.")
    switch = box.addButton("Switch to the standard model", QMessageBox.ButtonRole.AcceptRole)
    add = box.addButton("Add with the demo model", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(switch)
    box.exec()
    clicked = box.clickedButton()
    return "switch" if clicked is switch else "add" if clicked is add else ""


class LibraryDialog(QDialog):
    add_requested = Signal(list)
    remove_requested = Signal(str)

    def __init__(self, data_dir: DataDir, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.setWindowTitle("Library folders")
        self.resize(720, 380)
        intro = QLabel("photofind finds photos in these folders and keeps its index in line with "
                       "them. Removing a folder only removes it from photofind's index; your "
                       "photos stay where they are.")
        intro.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Folder", "Photos", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No folders yet. Add the folders that hold your photos.")
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove from library")
        self.remove_button.setEnabled(False)
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.rows: list[tuple[str, int, bool]] = []
        self.refresh()

    def refresh(self) -> None:
        run_in_background(lambda: root_rows(self.data_dir), self._fill)

    def _fill(self, rows: list[tuple[str, int, bool]]) -> None:
        self.rows = rows
        self.tree.clear()
        for root, count, online in rows:
            item = QTreeWidgetItem([root, f"{count:,}", "online" if online else
                                    "offline — photos kept until it is back"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not online:
                item.setForeground(2, self.palette().color(QPalette.ColorRole.PlaceholderText))
            item.setData(0, Qt.ItemDataRole.UserRole, root)
            self.tree.addTopLevelItem(item)
        self.empty.setVisible(not rows)
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.remove_button.setEnabled(bool(self.tree.selectedItems()))

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_requested.emit([folder])

    def _remove(self) -> None:
        items = self.tree.selectedItems()
        if not items:
            return
        root = items[0].data(0, Qt.ItemDataRole.UserRole)
        count = next((c for r, c, _ in self.rows if r == root), 0)
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Remove {root} from the library?\n\nIts {count:,} photos leave photofind's index. "
            "The files themselves are not touched.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_requested.emit(root)


class FailuresDialog(QDialog):
    """The files photofind could not read, each with the reason."""

    def __init__(self, data_dir: DataDir, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files photofind could not read")
        self.resize(820, 420)
        intro = QLabel("These files were skipped. photofind tries each again when it changes.")
        intro.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.tree.header().resizeSection(0, 380)
        self.copy_button = QPushButton("Copy list")
        self.copy_button.clicked.connect(self._copy)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self.rows: list[tuple[str, str]] = []
        run_in_background(lambda: failure_rows(data_dir), self._fill)

    def _fill(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        for path, reason in rows:
            item = QTreeWidgetItem([path, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
            self.tree.addTopLevelItem(item)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(f"{p}\t{r}" for p, r in self.rows))
