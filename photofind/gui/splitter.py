"""The grid and the detail panel side by side. The panel takes room only while a photo is
selected, at the width the person last dragged it to; dragging it open with nothing
selected keeps it open, dragging it shut while a photo is selected keeps it shut."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from photofind.gui.prefs import Prefs

GRID_MIN = 220  # the grid keeps at least one column of cells
PANEL_MIN = 220


class PreviewSplitter(QSplitter):
    def __init__(self, grid: QWidget, panel: QWidget, prefs: Prefs,
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.prefs = prefs
        self.addWidget(grid)
        self.addWidget(panel)
        grid.setMinimumWidth(GRID_MIN)
        panel.setMinimumWidth(PANEL_MIN)
        self.setCollapsible(0, False)
        self.setCollapsible(1, True)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)
        self.selected = False  # a photo is selected
        self.splitterMoved.connect(self._moved)
        self._apply()

    @property
    def panel_open(self) -> bool:
        """Whether the panel should take room now (the person's choice beats the default)."""
        mode = self.prefs.preview_mode
        return mode == "open" or (self.selected and mode != "closed")

    def panel_width(self) -> int:
        return self.sizes()[1]

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self._apply()

    def _apply(self) -> None:
        total = sum(self.sizes()) or max(self.width() - self.handleWidth(), 0)
        if total <= 0:
            return  # not laid out yet: showEvent applies it
        width = 0
        if self.panel_open:
            width = max(PANEL_MIN, min(self.prefs.preview_width, total - GRID_MIN))
        if self.sizes()[1] != width:
            self.setSizes([total - width, width])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._apply()

    def _moved(self, _pos: int, _index: int) -> None:
        """The person dragged the handle."""
        width = self.sizes()[1]
        if width > 0:
            self.prefs.preview_width = width
            self.prefs.preview_mode = "auto" if self.selected else "open"
        else:
            self.prefs.preview_mode = "closed" if self.selected else "auto"
