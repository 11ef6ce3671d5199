"""The badge on a result tile that stands for a stack of copies (core/duplicates/stacking):
"+N" in the thumbnail's top right corner; the tile's context menu shows the copies."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem


def badge_text(copies: int) -> str:
    return f"+{copies}"


def paint_copies_badge(painter: QPainter, option: QStyleOptionViewItem, box: QRect,
                       copies: int) -> None:
    """Draw "+N" (N copies stacked under this photo) in the top right of `box`."""
    text = badge_text(copies)
    metrics = option.fontMetrics
    width = metrics.horizontalAdvance(text) + 12
    height = metrics.height() + 4
    tag = QRect(box.right() - width - 5, box.y() + 5, width, height)
    painter.save()
    painter.setOpacity(1.0)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(QRectF(tag), height / 2, height / 2)
    painter.setPen(QColor("white"))
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
