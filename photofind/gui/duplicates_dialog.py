"""The duplicates review view: groups of copies side by side, the one to keep marked (and
changeable), what differs (size, dimensions, type, folder, date), and Move to Trash for
the others — only after a confirmation that lists them, into the system Trash
(`QFile.moveToTrash`), never a permanent delete, never automatic.

The pass (core/duplicates) and the checks and moves (core/duplicates/trash.py) run on a
pool thread; thumbnails are read on a pool thread too. The GUI thread only shows.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QFile, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from photofind.core.duplicates.groups import Group, Member, choose_keeper
from photofind.core.duplicates.library import find_in_library
from photofind.core.duplicates.trash import TrashResult, move_to_trash
from photofind.core.media.thumbnails import ThumbnailCache
from photofind.core.store.datadir import DataDir
from photofind.gui.tasks import run_in_background

THUMB = 150
COLUMNS = 4  # photos a row in a group
LISTED = 15  # files named in the confirmation before "and N more"


def qt_trash(path: str) -> None:
    """Move one file to the system Trash (freedesktop Trash under $XDG_DATA_HOME on Linux,
    the Recycle Bin, the macOS Trash); OSError when the system cannot."""
    answer = QFile.moveToTrash(path)
    ok = answer[0] if isinstance(answer, tuple) else bool(answer)
    if not ok:
        raise OSError(0, "the system refused: read-only drive, or no Trash on that volume")


class PhotoCard(QFrame):
    def __init__(self, member: Member, keep: QButtonGroup) -> None:
        super().__init__()
        self.member = member
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.image = QLabel("…")
        self.image.setFixedSize(THUMB, THUMB)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.image)
        self.keep = QRadioButton("Keep")
        keep.addButton(self.keep)
        self.trash = QCheckBox("Move to Trash")
        row = QHBoxLayout()
        row.addWidget(self.keep)
        row.addWidget(self.trash)
        layout.addLayout(row)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setFixedWidth(THUMB + 60)
        layout.addWidget(self.details)
        self.keep.toggled.connect(self._keep_toggled)

    def _keep_toggled(self, on: bool) -> None:
        if on:
            self.trash.setChecked(False)
        self.trash.setEnabled(not on)

    def describe(self, keeper: Member) -> None:
        m = self.member

        def mark(text: str, differs: bool) -> str:
            text = text.replace("&", "&amp;").replace("<", "&lt;")
            return f"<b>{text}</b>" if differs and m is not keeper else text

        lines = [
            mark(os.path.basename(m.path), False),
            mark(f"{m.width}×{m.height} · {m.format}", (m.width, m.height, m.format) !=
                 (keeper.width, keeper.height, keeper.format)),
            mark(_size(m.bytes), m.bytes != keeper.bytes),
            mark(m.folder, m.folder != keeper.folder),
            mark((m.taken or m.date or "no date")[:16].replace("T", " ")
                 + ("" if m.taken else " (file date)"), (m.taken or m.date) != (keeper.taken or keeper.date)),
        ]
        if m.similarity < 1.0:
            lines.append(f"similar: {m.similarity:.3f}")
        self.details.setText("<br>".join(lines))


class GroupBox(QGroupBox):
    def __init__(self, group: Group, cache: ThumbnailCache) -> None:
        super().__init__()
        self.group = group
        layout = QVBoxLayout(self)
        self.why = QLabel()
        self.why.setWordWrap(True)
        layout.addWidget(self.why)
        grid = QGridLayout()  # the photos side by side, COLUMNS a row
        self.keep_group = QButtonGroup(self)
        self.cards: list[PhotoCard] = []
        for n, m in enumerate(group.photos):
            card = PhotoCard(m, self.keep_group)
            self.cards.append(card)
            grid.addWidget(card, n // COLUMNS, n % COLUMNS)
            _load_thumbnail(cache, m.path, card.image)
        grid.setColumnStretch(COLUMNS, 1)
        layout.addLayout(grid)
        self.cards[0].keep.setChecked(True)
        for card in self.cards[1:]:
            card.trash.setChecked(True)
        self.keep_group.buttonToggled.connect(lambda *_: self._refresh())
        self._refresh()

    def keeper(self) -> PhotoCard:
        return next(c for c in self.cards if c.keep.isChecked())

    def picked(self) -> list[PhotoCard]:
        return [c for c in self.cards if c.trash.isChecked() and not c.keep.isChecked()]

    def _refresh(self) -> None:
        keeper = self.keeper()
        for card in self.cards:
            card.describe(keeper.member)
        suggested = self.group.photos[0]
        kind = {"exact": "identical files", "near": "the same picture",
                "burst": "a burst of shots"}[self.group.kind]
        self.setTitle(f"{len(self.cards)} photos: {kind}")
        if keeper.member is suggested:
            self.why.setText(f"Suggested to keep: {self.group.why}.")
        else:
            ordered, _ = choose_keeper(self.group.photos, self.group.kind)
            self.why.setText(f"You chose to keep {os.path.basename(keeper.member.path)} "
                             f"(suggested: {os.path.basename(ordered[0].path)}).")


class DuplicatesDialog(QDialog):
    shown = Signal(int)  # groups shown (for tests)
    trashed = Signal(object)  # list[TrashResult] (for tests)

    def __init__(self, data_dir: DataDir, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.cache = ThumbnailCache(data_dir.thumbnails)
        self.boxes: list[GroupBox] = []
        self.confirm_box: QMessageBox | None = None
        self.setWindowTitle("Duplicates")
        self.resize(1180, 740)
        layout = QVBoxLayout(self)
        self.summary = QLabel("Looking for duplicates…")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.scroll, 1)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        layout.addWidget(self.outcome)
        buttons = QHBoxLayout()
        self.again = QPushButton("&Look again")
        self.trash_button = QPushButton("&Move to Trash…")
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.again)
        buttons.addStretch(1)
        buttons.addWidget(self.trash_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.again.clicked.connect(self.start)
        self.trash_button.clicked.connect(self.ask_to_trash)
        self.close_button.clicked.connect(self.close)
        self.trash_button.setEnabled(False)

    def start(self) -> None:
        self.summary.setText("Looking for duplicates…")
        self.again.setEnabled(False)
        self.trash_button.setEnabled(False)
        run_in_background(lambda: find_in_library(self.data_dir), self._found, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.again.setEnabled(True)
        self.summary.setText(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self.shown.emit(0)

    def _found(self, found) -> None:
        self.again.setEnabled(True)
        holder = QWidget()
        column = QVBoxLayout(holder)
        self.boxes = []
        for group in found.groups:
            box = GroupBox(group, self.cache)
            for card in box.cards:
                card.trash.toggled.connect(lambda *_: self._count())
            self.boxes.append(box)
            column.addWidget(box)
        column.addStretch(1)
        self.scroll.setWidget(holder)
        copies = sum(len(g.photos) - 1 for g in found.groups)
        spare = sum(m.bytes for g in found.groups for m in g.photos[1:])
        self.summary.setText(
            f"{len(found.groups)} group(s) of copies; {copies} photo(s) could go to the Trash "
            f"({_size(spare)}). Nothing is moved until you confirm." if found.groups else
            "No duplicates found.")
        self._count()
        self.shown.emit(len(found.groups))

    def picked(self) -> list[tuple[GroupBox, list[PhotoCard]]]:
        return [(b, b.picked()) for b in self.boxes if b.picked()]

    def _count(self) -> None:
        n = sum(len(cards) for _, cards in self.picked())
        self.trash_button.setText(f"&Move {n} to Trash…" if n else "&Move to Trash…")
        self.trash_button.setEnabled(n > 0)

    def ask_to_trash(self) -> None:
        picked = self.picked()
        paths = [c.member.path for _, cards in picked for c in cards]
        if not paths:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Move to Trash")
        box.setText(f"Move these {len(paths)} photo(s) to the Trash? The photos you keep "
                    "stay where they are.")
        listed = "\n".join(paths[:LISTED])
        if len(paths) > LISTED:
            listed += f"\n… and {len(paths) - LISTED} more"
        box.setInformativeText(listed)
        self.confirm_button = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _r: self._confirmed(box, picked))
        self.confirm_box = box
        box.open()

    def _confirmed(self, box: QMessageBox, picked) -> None:
        self.confirm_box = None
        if box.clickedButton() is not self.confirm_button:
            self.outcome.setText("Nothing was moved.")
            return
        work = [(b.keeper().member, [c.member for c in cards]) for b, cards in picked]
        self.trash_button.setEnabled(False)
        run_in_background(lambda: [move_to_trash(keep, chosen, qt_trash) for keep, chosen in work],
                          self._moved, self._failed)

    def _moved(self, results: list[TrashResult]) -> None:
        moved = {p for r in results for p in r.moved}
        lines = []
        if moved:
            lines.append(f"Moved {len(moved)} photo(s) to the Trash; photofind drops them from "
                         "its results as it does for any deleted photo.")
        lines += [f"Not moved: {r.refused}" for r in results if r.refused]
        lines += [reason for r in results for _p, reason in r.failed]
        self.outcome.setText("\n".join(lines) or "Nothing was moved.")
        for box in self.boxes:
            for card in box.cards:
                if card.member.path in moved:
                    card.trash.setChecked(False)
                    card.setEnabled(False)
                    card.details.setText("<i>moved to the Trash</i>")
        self._count()
        self.trashed.emit(results)


def _load_thumbnail(cache: ThumbnailCache, path: str, label: QLabel) -> None:
    def read() -> QImage:
        return QImage(str(cache.get(path, THUMB)))

    def show(image: QImage | None) -> None:
        try:  # the dialog may have been closed or refilled meanwhile
            if image is None or image.isNull():
                label.setText("no preview")
                return
            label.setPixmap(QPixmap.fromImage(image).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        except RuntimeError:
            pass

    run_in_background(read, show, lambda _e: show(None))


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} KB"
