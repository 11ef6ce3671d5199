"""Help for people using the app: the application menu (≡ in the search bar: Library,
Settings, Help, About, Quit), the Help window (F1: what photofind does, the keyboard
shortcuts, where it keeps its data, logs and settings) and About (version, licence, the
model in use)."""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photofind import __version__
from photofind.core.store.datadir import DataDir
from photofind.gui.errors import LOG_NAME

LICENCE = "MIT"
SHORTCUTS = [
    ("Ctrl+F or /", "go to the search field"),
    ("↓ in the search field, then arrows", "move through the results"),
    ("Enter", "open the photo in your viewer"),
    ("Space", "show the photo large (← → previous and next; Space or Esc goes back)"),
    ("Ctrl+C", "copy the selected photos' paths"),
    ("Ctrl+V", "find photos similar to a copied image, file or path"),
    ("Ctrl + mouse wheel", "thumbnail size"),
    ("Esc", "clear the search"),
    ("Ctrl+L", "library folders"),
    ("Ctrl+Shift+D", "duplicates: review copies, move the ones you pick to the Trash"),
    ("Ctrl+,", "settings"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
]


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td style='padding-right:16px'><b>{html.escape(keys)}</b></td>"
                   f"<td>{html.escape(what)}</td></tr>" for keys, what in SHORTCUTS)
    return f"<table cellspacing='2'>{rows}</table>"


class HelpDialog(QDialog):
    """F1: what photofind does, its keys, and where its files are."""

    def __init__(self, data_dir: DataDir, settings_file: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.setWindowTitle("photofind help")
        self.setMinimumWidth(520)
        intro = QLabel(
            "Type what a photo shows (“kids on a red sled”) to find it, or drop a photo on "
            "the window to see the ones like it. photofind keeps the index current while it "
            "runs, and never changes, moves or deletes a photo.")
        intro.setWordWrap(True)
        keys = QLabel(shortcuts_html())
        keys.setTextFormat(Qt.TextFormat.RichText)
        keys.setWordWrap(True)  # in a narrow dialog the descriptions wrap
        self.where = QLabel(
            "<b>Where photofind keeps its files</b><br>"
            f"Index, thumbnails and models: {html.escape(str(data_dir.root))}<br>"
            f"Log: {html.escape(str(data_dir.logs / LOG_NAME))}<br>"
            f"Settings: {html.escape(settings_file)}")
        self.where.setTextFormat(Qt.TextFormat.RichText)
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_data = QPushButton("Open the data folder")
        open_data.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(data_dir.root))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(open_data, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(QLabel("<b>Keyboard</b>"))
        layout.addWidget(keys)
        layout.addSpacing(6)
        layout.addWidget(self.where)
        layout.addWidget(buttons)
        self.resize(660, layout.heightForWidth(660) if layout.hasHeightForWidth()
                    else self.sizeHint().height())


def about_html(model: str | None, data_dir: DataDir) -> str:
    from PySide6 import __version__ as pyside

    model_text = html.escape(model) if model else "none yet (no photos indexed)"
    return (f"<h3>photofind {__version__}</h3>"
            "<p>Finds photos in your own folders by what they show, on this computer: "
            "offline and private.</p>"
            f"<p>Model in use: <b>{model_text}</b><br>"
            f"Data folder: {html.escape(str(data_dir.root))}</p>"
            f"<p>Licence: {LICENCE}. Built on open_clip, usearch, SQLite, Pillow and Qt "
            f"(PySide6 {pyside}), Python {platform.python_version()}.</p>")


class AppMenu(QMenu):
    """≡: everything the window offers besides searching, each with its shortcut (the
    shortcuts work with the menu closed: its actions are also the window's)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.help_dialog: HelpDialog | None = None
        self.about_box: QMessageBox | None = None
        self.library_action = self._add("Library folders…", window.show_library, "Ctrl+L")
        self.duplicates_action = self._add("Duplicates…", window.show_duplicates, "Ctrl+Shift+D")
        self.stack_action = self._add("Stack copies in results", window.toggle_stacking)
        self.stack_action.setCheckable(True)
        self.stack_action.setChecked(window.prefs.stack_copies)
        self.settings_action = self._add("Settings…", window.show_settings,
                                         QKeySequence.StandardKey.Preferences, "Ctrl+,")
        self.addSeparator()
        self.help_action = self._add("Help and keyboard shortcuts", self.show_help,
                                     QKeySequence.StandardKey.HelpContents, "F1")
        self.about_action = self._add("About photofind", self.show_about)
        self.addSeparator()
        self.quit_action = self._add("Quit", window.close, QKeySequence.StandardKey.Quit,
                                     "Ctrl+Q")

    def _add(self, text: str, slot, *keys) -> QAction:
        action = QAction(text, self.window_)
        sequences = []
        for key in keys:
            found = QKeySequence.keyBindings(key) if isinstance(
                key, QKeySequence.StandardKey) else [QKeySequence(key)]
            sequences += [s for s in found if s not in sequences]
        if sequences:
            action.setShortcuts(sequences)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        self.window_.addAction(action)  # the shortcut works with the menu closed
        return action

    def show_help(self) -> HelpDialog:
        window = self.window_
        if self.help_dialog is None:
            settings = window.prefs.qs.fileName()
            self.help_dialog = HelpDialog(window.data_dir, settings, window)
        self.help_dialog.show()
        self.help_dialog.raise_()
        self.help_dialog.activateWindow()  # so that Esc closes it
        return self.help_dialog

    def show_about(self) -> QMessageBox:
        window = self.window_
        model = window.library.get("model") or None
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About photofind",
                          about_html(model, window.data_dir),
                          QMessageBox.StandardButton.Close, window)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setIconPixmap(window.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.about_box = box
        return box
