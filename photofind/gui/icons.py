"""Small line icons drawn with QPainter in the palette's text colour.

Icon themes are missing on many systems (and under Xvfb), and fixed-colour image files
look wrong in either the light or the dark theme; these follow the palette instead.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication

_bound: list[tuple[weakref.ref, Callable[[], str], Callable[[QObject, QIcon], None]]] = []


def bind(target: QObject, name: str | Callable[[], str],
         apply: Callable[[QObject, QIcon], None] | None = None) -> None:
    """Give `target` (a button, an action, a label with `apply`) the icon `name` now, and
    again whenever `refresh()` runs (the system switched between light and dark)."""
    name_of = name if callable(name) else (lambda: name)
    apply = apply or (lambda obj, ic: obj.setIcon(ic))
    apply(target, icon(name_of()))
    _bound.append((weakref.ref(target), name_of, apply))


def refresh() -> None:
    """Redraw every bound icon in the palette's current colours."""
    alive = []
    for ref, name_of, apply in _bound:
        target = ref()
        if target is None:
            continue
        try:
            apply(target, icon(name_of()))
        except RuntimeError:  # its C++ side is gone
            continue
        alive.append((ref, name_of, apply))
    _bound[:] = alive


def pixmap_of(size: int) -> Callable[[QObject, QIcon], None]:
    """An `apply` for labels: show the icon as a `size` px pixmap."""
    return lambda label, ic: label.setPixmap(ic.pixmap(size, size))


def icon(name: str, size: int = 32) -> QIcon:
    result = QIcon()
    for mode, role in ((QIcon.Mode.Normal, QPalette.ColorRole.WindowText),
                       (QIcon.Mode.Disabled, QPalette.ColorRole.PlaceholderText)):
        result.addPixmap(_draw(name, size, role), mode)
    return result


def _draw(name: str, size: int, role: QPalette.ColorRole) -> QPixmap:
    app = QApplication.instance()
    ratio = app.devicePixelRatio() if app else 1.0
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    colour = QApplication.palette().color(QPalette.ColorGroup.Active, role)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 24, size / 24)  # icons are drawn on a 24×24 grid
    pen = QPen(colour, 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    DRAW[name](p, colour)
    p.end()
    return pixmap


def _search(p: QPainter, _c) -> None:
    p.drawEllipse(QPointF(10, 10), 6, 6)
    p.drawLine(QPointF(14.5, 14.5), QPointF(20, 20))


def _folder(p: QPainter, _c) -> None:
    path = QPainterPath()
    path.moveTo(3, 6)
    path.lineTo(9, 6)
    path.lineTo(11, 8)
    path.lineTo(21, 8)
    path.lineTo(21, 19)
    path.lineTo(3, 19)
    path.closeSubpath()
    p.drawPath(path)


def _gear(p: QPainter, _c) -> None:
    p.drawEllipse(QPointF(12, 12), 3, 3)
    for i in range(8):
        a = i * math.pi / 4
        p.drawLine(QPointF(12 + 6 * math.cos(a), 12 + 6 * math.sin(a)),
                   QPointF(12 + 8.5 * math.cos(a), 12 + 8.5 * math.sin(a)))
    p.drawEllipse(QPointF(12, 12), 6, 6)


def _pause(p: QPainter, _c) -> None:
    p.drawLine(QPointF(9, 6), QPointF(9, 18))
    p.drawLine(QPointF(15, 6), QPointF(15, 18))


def _play(p: QPainter, c) -> None:
    path = QPainterPath()
    path.moveTo(8, 5)
    path.lineTo(19, 12)
    path.lineTo(8, 19)
    path.closeSubpath()
    p.fillPath(path, c)


def _close(p: QPainter, _c) -> None:
    p.drawLine(QPointF(7, 7), QPointF(17, 17))
    p.drawLine(QPointF(17, 7), QPointF(7, 17))


def _similar(p: QPainter, _c) -> None:
    p.drawRoundedRect(QRectF(3, 5, 11, 11), 2, 2)
    p.drawEllipse(QPointF(16, 15), 4, 4)
    p.drawLine(QPointF(19, 18), QPointF(21.5, 20.5))


def _open(p: QPainter, _c) -> None:
    p.drawRoundedRect(QRectF(4, 4, 16, 16), 2, 2)
    p.drawLine(QPointF(10, 14), QPointF(17, 7))
    p.drawLine(QPointF(12, 7), QPointF(17, 7))
    p.drawLine(QPointF(17, 7), QPointF(17, 12))


def _warning(p: QPainter, _c) -> None:
    path = QPainterPath()
    path.moveTo(12, 3)
    path.lineTo(22, 20)
    path.lineTo(2, 20)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(12, 9), QPointF(12, 14))
    p.drawPoint(QPointF(12, 17))


def _photo(p: QPainter, _c) -> None:
    p.drawRoundedRect(QRectF(3, 5, 18, 14), 2, 2)
    p.drawEllipse(QPointF(8.5, 10), 1.5, 1.5)
    path = QPainterPath()
    path.moveTo(4, 18)
    path.lineTo(10, 13)
    path.lineTo(14, 16)
    path.lineTo(17, 13)
    path.lineTo(20, 16)
    p.drawPath(path)


def _menu(p: QPainter, _c) -> None:
    for y in (7, 12, 17):
        p.drawLine(QPointF(5, y), QPointF(19, y))


DRAW = {
    "search": _search, "folder": _folder, "settings": _gear, "pause": _pause, "play": _play,
    "close": _close, "similar": _similar, "open": _open, "warning": _warning, "photo": _photo,
    "menu": _menu,
}
