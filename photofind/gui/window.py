"""The main window: search field on top, results grid, preview pane, status bar.

The window only arranges widgets and passes messages. Searching happens on the search
worker's thread, indexing on the index worker's, thumbnails and previews on thread pools;
their answers arrive as queued signals.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import (
    QEvent,
    QSize,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFrame,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from photofind.core.media.thumbnails import ThumbnailCache
from photofind.core.store.datadir import DataDir
from photofind.gui import icons, none_guard
from photofind.gui.delegate import ResultDelegate
from photofind.gui.drop import DropAndPaste, DropHint
from photofind.gui.duplicates_dialog import DuplicatesDialog
from photofind.gui.filter_chips import FilterChips
from photofind.gui.help import AppMenu
from photofind.gui.index_controller import IndexController
from photofind.gui.library_dialog import LibraryDialog
from photofind.gui.library_view import LibraryView
from photofind.gui.prefs import Prefs
from photofind.gui.preview import LargePreview, PreviewPane
from photofind.gui.results_actions import ResultsActions
from photofind.gui.results_model import PATH_ROLE, ResultsModel
from photofind.gui.results_view import MessagePage, ResultsView
from photofind.gui.search_bar import SearchBar
from photofind.gui.search_controller import SearchController
from photofind.gui.search_flow import SearchFlow
from photofind.gui.splitter import PreviewSplitter
from photofind.gui.status_bar import StatusBar
from photofind.gui.tasks import run_in_background
from photofind.gui.thumbnail_loader import ThumbnailLoader
from photofind.gui.welcome import WelcomePage

log = logging.getLogger(__name__)
DEBOUNCE_MS = 150
THUMBNAIL_CACHE_BYTES = 2 << 30
MINIMUM_SIZE = QSize(640, 440)  # the search field, a grid column and the panel still fit


class MainWindow(SearchFlow, ResultsActions, DropAndPaste, LibraryView, QMainWindow):
    # for tests and benchmarks
    results_shown = Signal(int)  # how many
    library_updated = Signal(dict)
    index_finished = Signal(str, object)

    def __init__(self, data_dir: DataDir, prefs: Prefs | None = None, *,
                 index_on_start: bool = True, demo_count: int = 300) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.prefs = prefs or Prefs()
        self.index_on_start = index_on_start
        self.demo_count = demo_count
        self.library: dict = {}
        self.caught_up = False
        self._closing = False
        self.library_dialog: LibraryDialog | None = None
        self.duplicates_dialog: DuplicatesDialog | None = None
        self.notice: tuple[str, str] | None = None  # shown instead of the idle page
        self._results_note = ""  # the status bar's note about the results shown
        self._pending_image: str | None = None  # `photofind gui IMAGE`, until the library is known
        self.context_menu: QMenu | None = None
        self.weaker_expanded = False  # the "Show N weaker matches" divider, clicked open
        self._answer: dict = {}  # the last answer shown (search_flow.py)
        self._seconds = 0.0
        self._more = self._loading_more = False  # the timeline has (is getting) more pages
        none_guard.start(self)  # PySide6 6.12 on Python 3.11 (none_guard.py)
        self.setWindowTitle("photofind")
        self.setMinimumSize(MINIMUM_SIZE)
        self.setAcceptDrops(True)

        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.loader = ThumbnailLoader(ThumbnailCache(data_dir.thumbnails), parent=self)
        self._build()
        self._start_workers()
        self._restore()
        run_in_background(lambda: ThumbnailCache(data_dir.thumbnails).prune(THUMBNAIL_CACHE_BYTES),
                          lambda _n: None, lambda exc: log.info("thumbnail prune: %s", exc))

    # --- building ------------------------------------------------------------------------

    def _build(self) -> None:
        self.bar = SearchBar(self.loader, self.prefs.zoom)
        self.field = self.bar.field
        self.model = ResultsModel(self)
        self.delegate = ResultDelegate(self.loader, self.prefs.zoom, self)
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.message = MessagePage()
        self.results_stack = QStackedWidget()
        self.results_stack.addWidget(self.message)
        self.results_stack.addWidget(self.view)
        self.preview = PreviewPane(self.pool)
        self.splitter = PreviewSplitter(self.results_stack, self.preview, self.prefs)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.main_page = QWidget()
        main = QVBoxLayout(self.main_page)
        main.setContentsMargins(0, 0, 0, 0)
        main.setSpacing(0)
        main.addWidget(self.bar)
        self.chips = FilterChips()
        main.addWidget(self.chips)
        main.addWidget(line)
        main.addWidget(self.splitter, 1)
        self.welcome = WelcomePage()
        self.large = LargePreview(self.pool)
        self.opening = MessagePage()
        self.opening.show_message("Opening your library…")
        self.pages = QStackedWidget()
        for page in (self.opening, self.welcome, self.main_page, self.large):
            self.pages.addWidget(page)
        self.setCentralWidget(self.pages)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.drop_hint = DropHint(self.pages)
        self._apply_zoom(self.prefs.zoom)

        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(lambda: self.search_now())

        self.field.textEdited.connect(self._text_edited)
        self.field.textChanged.connect(self._text_changed)
        self.field.returnPressed.connect(lambda: self.search_now())
        self.chips.text_changed.connect(self._chips_edited)
        self.chips.sort_changed.connect(self._sort_changed)
        self.view.clicked.connect(self._divider_clicked)
        self.view.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.field.escape.connect(self.clear_query)
        self.field.down.connect(self._focus_results)
        self.field.photo_paste_handler = self.paste_photo
        self.bar.chip.cleared.connect(self.clear_query)
        self.bar.zoom.valueChanged.connect(self._apply_zoom)
        self.bar.library_clicked.connect(self.show_library)
        self.bar.settings_clicked.connect(self.show_settings)
        self.loader.ready.connect(self.model.photo_changed)
        self.view.zoom_step.connect(lambda d: self.bar.zoom.setValue(self.bar.zoom.value() + 16 * d))
        self.view.space_pressed.connect(self.toggle_large_preview)
        self.view.open_pressed.connect(lambda: self.open_paths(self.selected_paths()))
        self.view.doubleClicked.connect(lambda i: self.open_paths([i.data(PATH_ROLE)]))
        self.view.copy_pressed.connect(lambda: self.copy_paths(self.selected_paths()))
        self.view.escape_pressed.connect(self.field.setFocus)
        self.view.up_from_top.connect(self.field.setFocus)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.selectionModel().selectionChanged.connect(
            lambda *_: self.status.set_selection(
                len(self.view.selectionModel().selectedIndexes())))
        self.preview.open_requested.connect(lambda p: self.open_paths([p]))
        self.preview.show_in_folder_requested.connect(self.show_in_folder)
        self.preview.find_similar_requested.connect(self.find_similar)
        self.large.closed.connect(self.toggle_large_preview)
        self.large.step.connect(self._step)
        self.large.open_requested.connect(lambda: self.open_paths(self.selected_paths()[:1]))
        self.message.action.connect(self._message_action)
        self.welcome.start.connect(self._welcome_start)
        self.welcome.demo.connect(self.start_demo)
        self.welcome.settings.connect(self.show_settings)
        self.status.pause_toggled.connect(self._pause_toggled)
        self.status.stop_clicked.connect(self._stop_indexing)
        self.status.failures_clicked.connect(self.show_failures)

        for keys in ("Ctrl+F", "/"):
            QShortcut(QKeySequence(keys), self, self.focus_search)
        self.app_menu = AppMenu(self)  # Library, Settings, Help (F1), About, Quit
        self.bar.menu_button.setMenu(self.app_menu)
        paste = QAction(self)
        paste.setShortcut(QKeySequence.StandardKey.Paste)
        paste.triggered.connect(self.paste_photo)
        self.addAction(paste)

    def _start_workers(self) -> None:
        self.search = SearchController(self.data_dir, self.prefs.device,
                                       lambda: self.prefs.result_limit, self)
        self.searcher = self.search.worker
        self.searcher.stack = self.prefs.stack_copies
        self.search.results.connect(self._results)
        self.search.failed.connect(self._search_failed)
        self.search.library.connect(self._library_info)

        self.index_ctl = IndexController(self.data_dir, self.prefs.device, self.prefs.cores, self)
        self.indexer = self.index_ctl.worker
        self.index_ctl.progress.connect(self._index_progress)
        self.index_ctl.finished.connect(self._index_finished)
        self.index_ctl.failed.connect(self._index_failed)
        self.index_ctl.model_unavailable.connect(self._model_unavailable)
        self.index_ctl.busy.connect(self._writer_busy)
        # Bound methods of GUI-thread objects only: PySide6 runs a lambda connected to
        # another thread's signal in that thread.
        self.indexer.note.connect(self.status.set_note)
        self.indexer.library_changed.connect(self.search.worker.library_changed)

    def _restore(self) -> None:
        geometry = self.prefs.state("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1240, 800)

    # --- searching ------------------------------------------------------------------------

    def focus_search(self) -> None:
        if self.pages.currentWidget() is self.large:
            self.toggle_large_preview()
        self.field.setFocus()
        self.field.selectAll()

    def start_with(self, image: str) -> None:
        """`photofind gui IMAGE`: photos like IMAGE, once the library is known; what is
        wrong (no such file, no library yet) is said in the window."""
        self._pending_image = os.path.abspath(os.path.expanduser(image))
        if self.library:
            self._take_pending_image()

    def _take_pending_image(self) -> None:
        path, self._pending_image = self._pending_image, None
        if self.library.get("roots"):
            self.find_similar([path])
        elif not os.path.isfile(path):
            self.welcome.show_problem(f"{path} does not exist (moved, deleted, or mistyped).",
                                      title="photofind cannot open that photo")
        else:
            self.welcome.show_problem(
                f"Choose the folders that hold your photos and start indexing; then drop "
                f"{os.path.basename(path)} on the window to see the photos like it.",
                title="No photos indexed yet")

    def show_duplicates(self) -> DuplicatesDialog:
        """The duplicates review view (≡ → Duplicates…, Ctrl+Shift+D): the pass runs on a pool
        thread each time the view opens."""
        if self.duplicates_dialog is None:
            dialog = DuplicatesDialog(self.data_dir, self)
            dialog.finished.connect(lambda _r: setattr(self, "duplicates_dialog", None))
            self.duplicates_dialog = dialog
            dialog.start()
        self.duplicates_dialog.show()
        self.duplicates_dialog.raise_()
        return self.duplicates_dialog

    def toggle_stacking(self) -> None:
        """≡ → Stack copies in results: one tile per picture (a "+N" badge), or every copy."""
        on = self.app_menu.stack_action.isChecked()
        self.prefs.stack_copies = on
        self.searcher.stack = on  # read by the search worker's thread for the next query
        if self._answer and not self._answer.get("browses"):
            self.search_now(force=True)

    def show_notice(self, title: str, body: str) -> None:
        """Say something in place of the results until the person searches again."""
        self.notice = (title, body)
        self.search.clear()
        self.bar.chip.set_paths([])
        self.model.clear()
        self.message.show_message(title, body)
        self.results_stack.setCurrentWidget(self.message)
        self._show_in_panel(None)
        self.results_shown.emit(0)

    # --- what to show ---------------------------------------------------------------------

    @Slot(dict)
    def _library_info(self, info: dict) -> None:
        self.library = info
        self.chips.set_folders(info.get("folders") or [])
        self.status.set_library(info.get("photos", 0), len(info.get("offline_roots", [])),
                                info.get("failed", 0))
        self.status.count.setVisible(bool(info.get("roots")))
        if not info.get("roots"):
            if self.pages.currentWidget() is not self.welcome:
                self.pages.setCurrentWidget(self.welcome)
        elif self.pages.currentWidget() in (self.opening, self.welcome):
            self.pages.setCurrentWidget(self.main_page)
            self.field.setFocus()
        if self.pages.currentWidget() is not self.welcome and not self.search.active \
                and not self.search.browsing and not self._pending_image:
            if self._timeline_ready():  # the empty box shows the library, newest first
                self.search_now(force=True)
            else:
                self._show_idle()
        if self._pending_image:
            self._take_pending_image()
        if info.get("roots") and not self.caught_up and self.index_on_start:
            self.caught_up = True
            self.start_indexing()  # catch up with what changed while closed, then watch
        self.library_updated.emit(info)

    def _show_idle(self) -> None:
        if self.notice:
            self.message.show_message(*self.notice)
            self.results_stack.setCurrentWidget(self.message)
            return
        info = self.library
        photos = info.get("photos", 0)
        problem = info.get("problem")
        offline = info.get("offline_roots", [])
        if problem and problem[0] == "model":
            self.message.show_message("The model is not available on this computer.", problem[1])
        elif problem and problem[0] == "error":
            self.message.show_message("photofind cannot search this library right now.",
                                      problem[1])
        elif photos == 0 and self.indexing:
            self.message.show_message("Indexing your photos…",
                                      "You can search as soon as the first ones are in.")
        elif photos == 0:
            self.message.show_message(
                "No photos in the library yet.",
                "The library folders hold no photos photofind can read.",
                "Library folders…", "library")
        else:
            text = (f"Type what you are looking for to search your {photos:,} photos, "
                    "or drop a photo here to find similar ones.")
            if offline:
                text += (f"\n\n{len(offline)} library folder{'s are' if len(offline) > 1 else ' is'}"
                         f" offline ({', '.join(offline)}); their photos are still found.")
            self.message.show_message("What are you looking for?", text)
        self.results_stack.setCurrentWidget(self.message)
        self._show_in_panel(None)

    def _message_action(self, key: str) -> None:
        if key == "library":
            self.show_library()

    # --- zoom, geometry, closing ----------------------------------------------------------------

    def _apply_zoom(self, value: int) -> None:
        self.delegate.set_thumb_size(value)
        self.view.set_cell(self.delegate.cell_size(self.view.fontMetrics()))
        self.prefs.zoom = value

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.ThemeChange):
            icons.refresh()  # light ↔ dark: redraw icons in the new text colour
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.drop_hint.isVisible():
            self.drop_hint.setGeometry(self.pages.rect().adjusted(40, 40, -40, -40))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.prefs.set_state("geometry", self.saveGeometry())
        self.prefs.sync()
        self.debounce.stop()
        self.hide()  # the last batch may take a few seconds to finish
        self.index_ctl.interrupt_for_shutdown()
        self.search.shutdown()
        self.index_ctl.shutdown()
        self.loader.shutdown()
        self.pool.waitForDone(5000)

    def sizeHint(self) -> QSize:
        return QSize(1240, 800)
