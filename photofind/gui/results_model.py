"""The search results as a Qt list model: one row per grid cell — a photo, or part of a
date header or of the "Show N weaker matches" divider (results_sections.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
)

from photofind.core.search.searcher import Result
from photofind.gui.results_sections import Divider, Entry, Filler, Header, Item, lay_out

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
SCORE_ROLE = Qt.ItemDataRole.UserRole + 2
RESULT_ROLE = Qt.ItemDataRole.UserRole + 3
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 4  # Item, Header, Divider or Filler


class ResultsModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[Entry] = []
        self._results: list = []  # one per row: Item/Result, or Header/Divider/Filler
        self._rows: dict[str, list[int]] = {}
        self.columns = 1

    def set_results(self, results: Sequence[Result | Entry]) -> None:
        """Show `results` (photos, and headers or a divider among them)."""
        self._entries = list(results)
        self._relayout()

    def set_columns(self, columns: int) -> None:
        """The grid's column count changed: full rows are re-padded."""
        columns = max(1, columns)
        if columns != self.columns:
            self.columns = columns
            if any(isinstance(e, (Header, Divider)) for e in self._entries):
                self._relayout()

    def append(self, results: Sequence[Result | Entry]) -> None:
        """More of the timeline: added at the end, the rows already shown left alone."""
        start = len(self._results)
        rows = lay_out(list(results), self.columns, start)
        if not rows:
            return
        self._entries.extend(results)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        for row, result in enumerate(rows, start):
            self._results.append(result)
            if isinstance(result, (Item, Result)):
                self._rows.setdefault(result.path, []).append(row)
        self.endInsertRows()

    def _relayout(self) -> None:
        self.beginResetModel()
        self._results = lay_out(self._entries, self.columns)
        self._rows = {}
        for row, result in enumerate(self._results):
            if isinstance(result, (Item, Result)):
                self._rows.setdefault(result.path, []).append(row)
        self.endResetModel()

    def clear(self) -> None:
        self.set_results([])

    def entry(self, row: int):
        return self._results[row] if 0 <= row < len(self._results) else None

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def result(self, row: int) -> Result | Item | None:
        """The photo in `row` (None for a header, the divider or padding)."""
        entry = self.entry(row)
        return entry if isinstance(entry, (Item, Result)) else None

    def results(self) -> list[Result | Item]:
        return [r for r in self._results if isinstance(r, (Item, Result))]

    def photo_count(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def row_of(self, path: str) -> int | None:
        rows = self._rows.get(path)
        return rows[0] if rows else None

    def divider_row(self) -> int | None:
        return next((r for r, e in enumerate(self._results) if isinstance(e, Divider)), None)

    def photo_changed(self, path: str) -> None:
        """Repaint the cells of `path` (its thumbnail arrived)."""
        for row in self._rows.get(path, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # --- QAbstractListModel ------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._results)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        result = self._results[index.row()]
        if role == ENTRY_ROLE:
            return result
        if not isinstance(result, (Item, Result)):
            if role == Qt.ItemDataRole.DisplayRole and isinstance(result, Header):
                return result.text
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(result.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            match = "" if result.score is None else f"\nmatch {result.score:.3f}"
            offline = "" if getattr(result, "online", True) else "\non a drive that is offline"
            return f"{os.path.basename(result.path)}{match}\n{os.path.dirname(result.path)}" \
                + offline
        if role == PATH_ROLE:
            return result.path
        if role == SCORE_ROLE:
            return result.score
        if role == RESULT_ROLE:
            return result
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        entry = self.entry(index.row())
        if isinstance(entry, Divider) or (isinstance(entry, Filler)
                                          and isinstance(entry.of, Divider)):
            return Qt.ItemFlag.ItemIsEnabled  # clicked: shows or hides the weaker matches
        if not isinstance(entry, (Item, Result)):
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled)

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "text/plain"]

    def mimeData(self, indexes) -> QMimeData:
        """Dragged results are the photo files themselves, for any app that takes files."""
        paths = []
        for index in sorted(indexes, key=lambda i: i.row()):
            path = self.data(index, PATH_ROLE)
            if path and path not in paths:
                paths.append(path)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        mime.setText("\n".join(paths))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction
