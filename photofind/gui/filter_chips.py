"""The row of filter chips under the search box, and the sort menu.

The search box's text is the one place a query lives: choosing a filter from a chip's
menu writes its token into the text (`after:2024-06 before:2024-07`, `in:Trips`,
`type:heic`, `orientation:portrait`), and a filter typed in the box shows up as a chip
whose × takes the token out of the text again. The same filters therefore apply to a
search, a find-similar and the timeline.
"""

from __future__ import annotations

import datetime as dt
import os
import re

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QMenu,
    QToolButton,
    QWidget,
)

from photofind.core.search.query import ORIENTATIONS, SORTS

FILTER = re.compile(r'(?<!\S)(after|before|in|type|orientation):("[^"]*"|\S+)', re.IGNORECASE)
SINGLE = ("after", "before", "orientation")  # a second one replaces the first
TYPE_NAMES = ("jpeg", "png", "heic", "webp", "gif", "tiff", "avif")
SORT_NAMES = {"relevance": "Best match first", "newest": "Newest first",
              "oldest": "Oldest first"}


# --- the text's filters --------------------------------------------------------------------

def filter_tokens(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, key, value) of each filter token in `text`."""
    return [(m.start(), m.end(), m.group(1).lower(), m.group(2).strip('"'))
            for m in FILTER.finditer(text)]


def without(text: str, keys: tuple[str, ...], value: str | None = None) -> str:
    """`text` less its filter tokens of `keys` (only those of `value`, if given)."""
    for start, end, key, val in reversed(filter_tokens(text)):
        if key in keys and (value is None or val.casefold() == value.casefold()):
            text = text[:start] + text[end:]
    return " ".join(text.split())


def with_filter(text: str, key: str, value: str) -> str:
    """`text` with `key:value` added (replacing an earlier one for after/before/
    orientation; a folder or type already there is not added twice)."""
    if key in SINGLE:
        text = without(text, (key,))
    elif any(k == key and v.casefold() == value.casefold()
             for _s, _e, k, v in filter_tokens(text)):
        return text
    token = f'{key}:"{value}"' if any(c.isspace() for c in value) else f"{key}:{value}"
    return f"{text.rstrip()} {token}".strip() + " "


def with_dates(text: str, after: dt.date | None, before: dt.date | None) -> str:
    text = without(text, ("after", "before"))
    if after:
        text = with_filter(text, "after", _short(after))
    if before:
        text = with_filter(text, "before", _short(before))
    return text


def _short(day: dt.date) -> str:
    if day.month == 1 and day.day == 1:
        return f"{day.year}"
    if day.day == 1:
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def presets(today: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """The date menu's ranges: [after, before)."""
    month = today.replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    year = dt.date(today.year, 1, 1)
    return {"This month": (month, next_month),
            "This year": (year, dt.date(today.year + 1, 1, 1)),
            "Last year": (dt.date(today.year - 1, 1, 1), year)}


def date_label(after: str | None, before: str | None) -> str:
    """after:2024 before:2025 → "2024"; after:2024-06 before:2024-07 → "June 2024"."""
    def day(value):
        parts = [int(p) for p in value.split("-")] if value else None
        return dt.date(parts[0], *(parts[1:] + [1, 1])[:2]) if parts else None
    try:
        a, b = day(after), day(before)
    except (ValueError, TypeError):
        return " ".join(x for x in (after, before) if x)
    if a and b:
        if (a.month, a.day) == (1, 1) and b == dt.date(a.year + 1, 1, 1):
            return f"{a.year}"
        if a.day == 1 and b == (a + dt.timedelta(days=32)).replace(day=1):
            return f"{a:%B %Y}"
        last = b - dt.timedelta(days=1)
        return f"{a.day} {a:%b %Y} – {last.day} {last:%b %Y}"
    if a:
        return f"from {a.day} {a:%b %Y}"
    return f"before {b.day} {b:%b %Y}"


# --- the widgets -----------------------------------------------------------------------------

class DateRangeDialog(QDialog):
    """From and to (both days included)."""

    def __init__(self, parent: QWidget | None = None, today: dt.date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Photos taken between")
        today = today or dt.date.today()
        self.start = QDateEdit(QDate(today.year, 1, 1))
        self.end = QDateEdit(QDate(today.year, today.month, today.day))
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        form = QFormLayout(self)
        form.addRow("From", self.start)
        form.addRow("To", self.end)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def range(self) -> tuple[dt.date, dt.date]:
        """[after, before): the day after "to" is the first one left out."""
        a, b = self.start.date().toPython(), self.end.date().toPython()
        a, b = min(a, b), max(a, b)
        return a, b + dt.timedelta(days=1)


class FilterChips(QWidget):
    text_changed = Signal(str)  # the search box's new text (a filter added or removed)
    sort_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.folders: list[str] = []
        self.sort = "relevance"
        self.today = dt.date.today  # tests give a fixed day
        self.date_button = self._menu_button("Date", self._date_menu)
        self.folder_button = self._menu_button("Folder", self._folder_menu)
        self.type_button = self._menu_button("Type", lambda m: self._choices(m, "type", TYPE_NAMES))
        self.orientation_button = self._menu_button(
            "Orientation", lambda m: self._choices(m, "orientation", ORIENTATIONS))
        self.sort_button = self._menu_button(SORT_NAMES["relevance"], self._sort_menu)
        self.sort_button.setToolTip("Order of the results")
        self.chips: list[QToolButton] = []  # the active filters, each with ×
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(10, 0, 10, 6)
        self.row.setSpacing(6)
        for button in (self.date_button, self.folder_button, self.type_button,
                       self.orientation_button):
            self.row.addWidget(button)
        self.chip_at = self.row.count()
        self.row.addStretch(1)
        self.row.addWidget(self.sort_button)

    def _menu_button(self, text: str, fill) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(button)
        menu.aboutToShow.connect(lambda: (menu.clear(), fill(menu)))
        button.setMenu(menu)
        return button

    # --- menus ----------------------------------------------------------------------------

    def _date_menu(self, menu: QMenu) -> None:
        for name, (a, b) in presets(self.today()).items():
            menu.addAction(name, lambda a=a, b=b: self._emit(with_dates(self.text, a, b)))
        menu.addAction("Choose dates…", self.choose_dates)

    def choose_dates(self) -> None:
        dialog = DateRangeDialog(self.window(), self.today())
        self.date_dialog = dialog  # tests reach it here
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._emit(with_dates(self.text, *dialog.range()))

    def _folder_menu(self, menu: QMenu) -> None:
        if not self.folders:
            menu.addAction("No folders yet").setEnabled(False)
            return
        names = [os.path.basename(f.rstrip("/\\")) or f for f in self.folders]
        for folder, name in sorted(zip(self.folders, names, strict=True),
                                   key=lambda x: x[0].casefold()):
            value = name if names.count(name) == 1 else folder.rstrip("/\\")
            action = menu.addAction(folder.rstrip("/\\") if value != name else name,
                                    lambda v=value: self._emit(with_filter(self.text, "in", v)))
            action.setToolTip(folder)

    def _choices(self, menu: QMenu, key: str, values) -> None:
        for value in values:
            menu.addAction(value.upper() if key == "type" else value.capitalize(),
                           lambda v=value: self._emit(with_filter(self.text, key, v)))

    def _sort_menu(self, menu: QMenu) -> None:
        for sort in SORTS:
            action = menu.addAction(SORT_NAMES[sort], lambda s=sort: self.set_sort(s, True))
            action.setCheckable(True)
            action.setChecked(sort == self.sort)

    def set_sort(self, sort: str, emit: bool = False) -> None:
        self.sort = sort
        self.sort_button.setText(SORT_NAMES[sort])
        if emit:
            self.sort_changed.emit(sort)

    def set_folders(self, folders: list[str]) -> None:
        self.folders = list(folders)

    def _emit(self, text: str) -> None:
        self.set_text(text)
        self.text_changed.emit(text)

    # --- the active filters as chips --------------------------------------------------------

    def set_text(self, text: str) -> None:
        """Show the filters typed in (or chosen into) the search box as chips."""
        self.text = text
        for chip in self.chips:
            self.row.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        tokens = filter_tokens(text)
        dates = {k: v for _s, _e, k, v in tokens if k in ("after", "before")}
        if dates:
            self._chip(date_label(dates.get("after"), dates.get("before")),
                       lambda: self._emit(without(self.text, ("after", "before"))))
        for _s, _e, key, value in tokens:
            if key in ("after", "before"):
                continue
            label = {"in": f"in {value}", "type": value.upper(),
                     "orientation": value.capitalize()}[key]
            self._chip(label, lambda _checked=False, k=key, v=value: self._emit(
                without(self.text, (k,), v)))

    def _chip(self, label: str, remove) -> None:
        chip = QToolButton()
        chip.setText(f"{label}  ×")
        chip.setToolTip(f"Remove the filter “{label}”")
        chip.setAutoRaise(False)
        chip.setBackgroundRole(QPalette.ColorRole.Highlight)
        chip.setStyleSheet("QToolButton { border-radius: 10px; padding: 2px 8px; "
                           "background: palette(highlight); color: palette(highlighted-text); }")
        chip.clicked.connect(remove)
        self.row.insertWidget(self.chip_at + len(self.chips), chip)
        self.chips.append(chip)

    def chip_labels(self) -> list[str]:
        return [c.text().removesuffix("  ×") for c in self.chips]
