"""The main window's side of the results: what is selected, the detail panel and the
large preview, the context menu, and handing photos on (open, show in folder, copy).
A mixin of `MainWindow` (window.py), which owns the widgets it uses."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from photofind.core.search.searcher import Result
from photofind.gui import launch
from photofind.gui.icons import icon


class ResultsActions:
    # --- the selection ----------------------------------------------------------------------

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [self.model.result(r).path for r in rows if self.model.result(r)]

    def current_result(self) -> Result | None:
        index = self.view.currentIndex()
        return self.model.result(index.row()) if index.isValid() else None

    def _current_changed(self, current, _previous) -> None:
        result = self.model.result(current.row()) if current.isValid() else None
        self._show_in_panel(result)
        if self.pages.currentWidget() is self.large:
            self.large.show_result(result)

    def _show_in_panel(self, result: Result | None) -> None:
        self.preview.show_result(result)
        self.splitter.set_selected(result is not None)

    def _focus_results(self) -> None:
        if self.model.rowCount() and self.results_stack.currentWidget() is self.view:
            self.view.setFocus()
            if not self.view.currentIndex().isValid():
                self.view.setCurrentIndex(self.model.index(0))

    def toggle_large_preview(self) -> None:
        if self.pages.currentWidget() is self.large:
            self.pages.setCurrentWidget(self.main_page)
            self.view.setFocus()
            return
        result = self.current_result()
        if result is None:
            return
        self.pages.setCurrentWidget(self.large)
        self.large.show_result(result)
        self.large.setFocus()

    def _step(self, delta: int) -> None:
        row = self.view.currentIndex().row() + delta
        while 0 <= row < self.model.rowCount() and self.model.result(row) is None:
            row += delta  # past a date header or the divider
        if 0 <= row < self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(row))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        if not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)
        paths = self.selected_paths()
        menu = QMenu(self)
        self.context_menu = menu  # tests reach it here
        menu.addAction(icon("open"), "Open", lambda: self.open_paths(paths[:1]))
        menu.addAction(icon("folder"), "Show in folder", lambda: self.show_in_folder(paths[0]))
        menu.addAction("Copy path" if len(paths) == 1 else f"Copy {len(paths)} paths",
                       lambda: self.copy_paths(paths))
        menu.addSeparator()
        menu.addAction(icon("similar"), "Find similar", lambda: self.find_similar(paths))
        stacked = self.model.result(index.row())
        copies = getattr(stacked, "copies", ())
        if copies:  # a stack of copies (core/duplicates/stacking): show them as tiles
            menu.addAction(f"Show the {len(copies)} {'copy' if len(copies) == 1 else 'copies'}",
                           lambda: self.expand_stack(stacked))
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def expand_stack(self, item) -> None:
        """Show a stack's copies as tiles of their own, right after the photo they were
        stacked under (until the next search)."""
        items = list(self._answer.get("items", []))
        if item not in items:
            return
        at = items.index(item)
        items[at:at + 1] = [replace(item, copies=()), *item.copies]
        self._answer = {**self._answer, "items": items}
        self._show_answer(self._answer, keep_place=True)

    # --- handing photos on ----------------------------------------------------------------------

    def offline_note(self, paths: list[str]) -> str | None:
        """What to say instead of opening a photo whose drive is unplugged."""
        for path in paths:
            row = self.model.row_of(path)
            result = self.model.result(row) if row is not None else None
            if result is not None and not getattr(result, "online", True):
                return (f"{os.path.basename(path)} is on a drive that is offline: connect "
                        f"the drive holding {os.path.dirname(path)} to open it.")
        return None

    def open_paths(self, paths: list[str]) -> None:
        offline = self.offline_note(paths[:10])
        if offline:
            self.status.set_note(offline)
            return
        self.status.set_note(launch.open_photos(paths) or "")

    def show_in_folder(self, path: str) -> None:
        offline = self.offline_note([path])
        if offline:
            self.status.set_note(offline)
            return
        self.status.set_note("")
        gone = launch.reveal(path, self.status.set_note)  # no file manager: said there
        if gone:
            self.status.set_note(gone)

    def copy_paths(self, paths: list[str]) -> None:
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self.status.set_note("Copied " + (paths[0] if len(paths) == 1
                                              else f"{len(paths)} paths"))
