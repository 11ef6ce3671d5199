"""The search results as a Qt list model: one row per photo, best first."""

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

from photofind.core.library import Result

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
SCORE_ROLE = Qt.ItemDataRole.UserRole + 2
RESULT_ROLE = Qt.ItemDataRole.UserRole + 3


class ResultsModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._results: list[Result] = []
        self._rows: dict[str, list[int]] = {}

    def set_results(self, results: Sequence[Result]) -> None:
        self.beginResetModel()
        self._results = list(results)
        self._rows = {}
        for row, result in enumerate(self._results):
            self._rows.setdefault(result.path, []).append(row)
        self.endResetModel()

    def clear(self) -> None:
        self.set_results([])

    def result(self, row: int) -> Result | None:
        return self._results[row] if 0 <= row < len(self._results) else None

    def results(self) -> list[Result]:
        return list(self._results)

    def row_of(self, path: str) -> int | None:
        rows = self._rows.get(path)
        return rows[0] if rows else None

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
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(result.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{os.path.basename(result.path)}\nmatch {result.score:.3f}\n"
                    f"{os.path.dirname(result.path)}")
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
