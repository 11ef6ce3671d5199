"""Paints one result cell: the thumbnail, fitted and sharp at the screen's pixel ratio,
and the file name underneath (two lines at most); selection and hover in the palette's
highlight colour. A photo on a drive that is offline is drawn faded, marked "offline".
A date header is a title cell before its month's photos; the "Show N weaker matches"
divider takes a whole row of cells, each painting its slice of it (results_sections.py)."""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photofind.core.media.thumbnails import bucket_for
from photofind.gui.results_model import ENTRY_ROLE, PATH_ROLE
from photofind.gui.results_sections import Divider, Filler, Header
from photofind.gui.stack_badge import paint_copies_badge
from photofind.gui.thumbnail_loader import ThumbnailLoader

PAD = 6  # between the cell's edge and the thumbnail
NAMES_FROM = 120  # file names are drawn under thumbnails at least this large
NAME_LINES = 2  # a long name wraps to a second line


class ResultDelegate(QStyledItemDelegate):
    def __init__(self, loader: ThumbnailLoader, thumb: int, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.thumb = thumb

    def set_thumb_size(self, thumb: int) -> None:
        self.thumb = thumb
        self.loader.forget_fitted()

    @property
    def show_names(self) -> bool:
        return self.thumb >= NAMES_FROM

    @property
    def box_height(self) -> int:
        """Thumbnails sit in a 4:3 box: most photos fill it; portraits stand in its middle."""
        return round(self.thumb * 3 / 4)

    def cell_size(self, metrics: QFontMetrics) -> QSize:
        text = NAME_LINES * metrics.height() + 4 if self.show_names else 0
        return QSize(self.thumb + 2 * PAD, self.box_height + 2 * PAD + text)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        view = option.widget
        grid = view.gridSize() if view is not None and hasattr(view, "gridSize") else QSize()
        if grid.isValid():  # the whole grid cell: the thumbnail is centred in it
            return grid
        return self.cell_size(option.fontMetrics)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        entry = index.data(ENTRY_ROLE)
        if isinstance(entry, Header):
            paint_title(painter, option, entry, self.thumb, self.box_height)
            return
        if isinstance(entry, (Divider, Filler)):
            full = entry.of if isinstance(entry, Filler) else entry
            if full is not None:
                column = entry.column if isinstance(entry, Filler) else 0
                paint_full_row(painter, option, full, column)
            return
        offline = entry is not None and not getattr(entry, "online", True)
        palette = option.palette
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        cell = option.rect.adjusted(2, 2, -2, -2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if selected or hovered:
            colour = QColor(palette.color(QPalette.ColorRole.Highlight))
            if not selected:
                colour.setAlpha(60)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(cell), 6, 6)

        box = QRect(cell.x() + (cell.width() - self.thumb) // 2, cell.y() + PAD - 2,
                    self.thumb, self.box_height)
        ratio = painter.device().devicePixelRatioF()
        device = QSize(math.ceil(box.width() * ratio), math.ceil(box.height() * ratio))
        bucket = bucket_for(device.width())
        path = index.data(PATH_ROLE)
        pixmap = self.loader.fitted(path, bucket, device)
        if offline:
            painter.setOpacity(0.35)
        if pixmap is not None:
            w, h = pixmap.width() / ratio, pixmap.height() / ratio
            target = QRectF(box.x() + (box.width() - w) / 2, box.y() + (box.height() - h) / 2,
                            w, h)
            painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.PlaceholderText))
            placeholder.setAlpha(40)
            painter.setBrush(placeholder)
            painter.drawRoundedRect(QRectF(box).adjusted(8, 8, -8, -8), 4, 4)
            if self.loader.failure(path, bucket):
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 "cannot show\nthis photo")

        if offline:
            painter.setOpacity(1.0)
            tag = QRect(box.x() + 6, box.y() + 6, option.fontMetrics.horizontalAdvance(
                "offline") + 10, option.fontMetrics.height() + 2)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(QRectF(tag), 3, 3)
            painter.setPen(QColor("white"))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, "offline")
            painter.setOpacity(0.6)
        copies = len(getattr(entry, "copies", ()) or ())
        if copies:  # a stack of copies (core/duplicates/stacking)
            paint_copies_badge(painter, option, box, copies)
        if self.show_names:
            role = (QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
            painter.setPen(palette.color(role))
            metrics = option.fontMetrics
            width = min(cell.width() - 8, self.thumb + 2 * PAD)
            lines = name_lines(index.data(Qt.ItemDataRole.DisplayRole) or "", metrics, width)
            for i, line in enumerate(lines):
                text_rect = QRect(cell.x() + (cell.width() - width) // 2,
                                  box.bottom() + 3 + i * metrics.height(), width, metrics.height())
                painter.drawText(text_rect,
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, line)
        painter.restore()


def paint_title(painter: QPainter, option: QStyleOptionViewItem, entry: Header,
                thumb: int, box_height: int) -> None:
    """A date header's cell: the month (or day) in large type where the thumbnail would be,
    the year under it, on a faint panel, so each month's photos start with their name."""
    palette = option.palette
    active = QPalette.ColorGroup.Active  # headers are not selectable: not "disabled" grey
    cell = option.rect.adjusted(2, 2, -2, -2)
    box = QRect(cell.x() + (cell.width() - thumb) // 2, cell.y() + PAD - 2, thumb, box_height)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    panel = QColor(palette.color(active, QPalette.ColorRole.Text))
    panel.setAlpha(14)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(panel)
    painter.drawRoundedRect(QRectF(box), 6, 6)
    head, _, tail = entry.text.rpartition(" ")
    if not head or not tail.isdigit():  # "No date", or a name without a year
        head, tail = entry.text, ""
    inner = box.adjusted(12, 10, -12, -10)
    big = QFont(option.font)
    big.setBold(True)
    big.setPointSizeF(big.pointSizeF() * (1.6 if box.height() >= 90 else 1.15))
    painter.setFont(big)
    painter.setPen(palette.color(active, QPalette.ColorRole.Text))
    flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
    used = painter.boundingRect(inner, flags, head)
    painter.drawText(inner, flags, head)
    if tail:
        small = QFont(option.font)
        small.setPointSizeF(small.pointSizeF() * 1.15)
        painter.setFont(small)
        painter.setPen(palette.color(active, QPalette.ColorRole.PlaceholderText))
        painter.drawText(inner.adjusted(0, used.height() + 2, 0, 0), flags, tail)
    painter.restore()


def paint_full_row(painter: QPainter, option: QStyleOptionViewItem, entry: Divider,
                   column: int) -> None:
    """Column `column`'s slice of the divider spanning the row."""
    view = option.widget
    grid = view.gridSize().width() if view is not None else option.rect.width()
    columns = max(1, view.model().columns) if view is not None else 1
    width = view.viewport().width() if view is not None else grid * columns
    rect = option.rect
    column = min(columns - 1, max(0, rect.center().x() // max(1, grid)))  # where it is
    left = column * grid  # this cell's part of the row, edge to edge
    right = width if column == columns - 1 else left + grid
    whole = QRect(0, rect.y(), width, rect.height())
    rect = QRect(left, rect.y(), right - left, rect.height())
    palette = option.palette
    active = QPalette.ColorGroup.Active  # the divider is not selectable: not "disabled" grey
    painter.save()
    painter.setClipRect(rect)
    font = QFont(option.font)
    metrics = QFontMetrics(font)
    hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
    band = QRect(whole.x() + 12, whole.center().y() - metrics.height(),
                 whole.width() - 24, metrics.height() * 2)
    y = band.center().y()
    text = (f"Hide the {entry.hidden} weaker matches ▴" if entry.expanded
            else f"Show {entry.hidden} weaker match{'es' if entry.hidden != 1 else ''} ▾")
    font.setBold(hovered)
    painter.setFont(font)
    width = QFontMetrics(font).horizontalAdvance(text) + 24
    painter.setPen(palette.color(active, QPalette.ColorRole.Mid))
    left = whole.center().x() - width // 2
    painter.drawLine(whole.x() + 12, y, left, y)
    painter.drawLine(left + width, y, whole.right() - 12, y)
    painter.setPen(palette.color(active, QPalette.ColorRole.Link if hovered
                                 else QPalette.ColorRole.Text))
    painter.drawText(QRect(left, band.y(), width, band.height()),
                     Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


def name_lines(name: str, metrics: QFontMetrics, width: int) -> list[str]:
    """A file name on at most two lines of `width`: the first broken after a "-", "_", "."
    or space where one is near its end, the second cut at its end ("…"). The words that
    say what a photo shows come first in a name; the whole name is in the tooltip."""
    if metrics.horizontalAdvance(name) <= width:
        return [name]
    fits = 1
    while fits < len(name) and metrics.horizontalAdvance(name[:fits + 1]) <= width:
        fits += 1
    cut = max(name.rfind(mark, 0, fits) for mark in "-_. ") + 1
    if cut < fits * 0.6:  # no break near the end: fill the line
        cut = fits
    return [name[:cut], metrics.elidedText(name[cut:], Qt.TextElideMode.ElideRight, width)]
