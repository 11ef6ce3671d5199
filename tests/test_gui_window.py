"""The desktop app's main window, driven as a person drives it, on a real (small) library
indexed with a real open_clip model (random weights: the answers are not meaningful, but
every path through the window, the workers and the core is the real one)."""

from __future__ import annotations

import os
import shutil

import pytest
from gui_support import build_library, hidden_weaker, make_prefs, open_window, show_weaker
from imagezoo import picture, save

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDesktopServices, QDropEvent, QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from photofind.gui import launch  # noqa: E402
from photofind.gui.index_worker import IndexStatus  # noqa: E402
from photofind.gui.results_sections import Header  # noqa: E402

COUNT = 24


@pytest.fixture(scope="module")
def library(tmp_path_factory, tiny_model):
    """A library of COUNT photos in two folders, indexed once for the whole module."""
    base = tmp_path_factory.mktemp("gui-library")
    a, b = base / "photos" / "trips", base / "photos" / "home"
    for i in range(COUNT):
        save(picture(i), (a if i % 2 else b) / f"photo-{i:02d}.jpg", quality=90)
    data_dir = build_library(base / "data", [a, b], tiny_model)
    return data_dir, base


@pytest.fixture
def window(qtbot, library, tmp_path, tiny_model):
    data_dir, _base = library
    return open_window(qtbot, data_dir, make_prefs(tmp_path / "settings", tiny_model))


def type_and_wait(qtbot, window, text: str) -> None:
    if not window.field.text():  # the empty box's timeline first: its answer is not this
        qtbot.waitUntil(lambda: bool(window.model.results()), timeout=20_000)
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClicks(window.field, text)


def drop(window, paths: list[str]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    point = QPointF(window.width() / 2, window.height() / 2)
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_starts_focused_on_search_showing_the_library_as_a_timeline(qtbot, window):
    assert window.pages.currentWidget() is window.main_page
    assert window.field.hasFocus()
    assert "drop a photo" in window.field.placeholderText()
    qtbot.waitUntil(lambda: len(window.model.results()) == COUNT, timeout=20_000)
    assert window.results_stack.currentWidget() is window.view
    assert isinstance(window.model.entry(0), Header)  # a month header first
    dates = [r.taken for r in window.model.results()]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert window.status.count.text() == f"{COUNT} photos"
    assert f"All {COUNT} photos, newest first" in window.status.note.text()


def test_typing_searches_once_debounced_and_shows_every_photo(qtbot, window):
    calls = []
    window.search._query.connect(lambda seq, query: calls.append(query.text))
    type_and_wait(qtbot, window, "a red sled")
    # every photo: the good matches, then the weaker ones behind the divider
    assert len(window.model.results()) + hidden_weaker(window) == COUNT
    # one search for the whole burst of keystrokes (besides the timeline, the empty box)
    assert [c for c in calls if c] == ["a red sled"]
    assert window.results_stack.currentWidget() is window.view
    scores = [r.score for r in window.model.results()]
    assert scores == sorted(scores, reverse=True)
    tip = window.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert os.path.basename(window.model.result(0).path) in tip and "match" in tip


def test_stale_answers_are_dropped(qtbot, window):
    type_and_wait(qtbot, window, "first")
    shown = window.model.results()
    window.search._results(window.search.seq - 1, [], 0.0)  # an answer to an older query arrives late
    assert window.model.results() == shown


def test_enter_searches_at_once_and_escape_clears(qtbot, window):
    window.field.setText("beach")
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClick(window.field, Qt.Key.Key_Return)
    assert not window.debounce.isActive()
    assert len(window.model.results()) + hidden_weaker(window) == COUNT
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClick(window.field, Qt.Key.Key_Escape)
    assert window.field.text() == ""  # cleared: the timeline again, every photo
    assert len(window.model.results()) == COUNT and window.model.divider_row() is None
    assert isinstance(window.model.entry(0), Header)


def test_dropping_a_photo_finds_similar_ones(qtbot, window, library):
    _data, base = library
    target = str(base / "photos" / "trips" / "photo-07.jpg")
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        drop(window, [target])
    show_weaker(qtbot, window)
    shown = [r.path for r in window.model.results()]
    assert target not in shown and len(shown) == COUNT - 1  # the chip stands for it
    assert window.model.result(0).score < 1.0 - 1e-3
    assert window.bar.chip.isVisible() and "photo-07.jpg" in window.bar.chip.label.text()
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        window.bar.chip.close_button.click()  # clear: back to the timeline
    assert not window.bar.chip.isVisible() and len(window.model.results()) == COUNT


def test_a_photo_from_outside_the_library_works_too(qtbot, window, library, tmp_path):
    _data, base = library
    outside = tmp_path / "downloads" / "copy.jpg"
    outside.parent.mkdir()
    shutil.copy(base / "photos" / "home" / "photo-04.jpg", outside)
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        drop(window, [str(outside), "/no/such/file.txt"])
    assert window.bar.chip.paths == [str(outside)]
    assert window.model.result(0).path == str(base / "photos" / "home" / "photo-04.jpg")


def test_pasting_a_path_finds_similar(qtbot, window, library):
    _data, base = library
    target = str(base / "photos" / "home" / "photo-10.jpg")
    QGuiApplication.clipboard().setText(target)
    window.field.setFocus()
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClick(window.field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.field.text() == ""
    assert window.bar.chip.paths == [target]
    show_weaker(qtbot, window)
    assert target not in [r.path for r in window.model.results()]  # shown as the chip
    QGuiApplication.clipboard().setText("plain words")  # anything else pastes as text
    qtbot.keyClick(window.field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.field.text() == "plain words"


def test_context_menu_reaches_the_right_targets(qtbot, window, monkeypatch):
    opened, shown = [], []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    monkeypatch.setattr(launch, "show_in_folder", lambda path, note: shown.append(path))
    type_and_wait(qtbot, window, "anything")
    show_weaker(qtbot, window)
    third = window.model.results()[2].path
    pos = window.view.visualRect(window.model.index(window.model.row_of(third))).center()
    window._context_menu(pos)
    menu = window.context_menu
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == ["Open", "Show in folder", "Copy path", "Find similar"]
    actions["Open"].trigger()
    assert [u.toLocalFile() for u in opened] == [third]
    actions["Show in folder"].trigger()
    assert shown == [third]
    actions["Copy path"].trigger()
    assert QGuiApplication.clipboard().text() == third
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        actions["Find similar"].trigger()
    assert window.bar.chip.paths == [third]
    show_weaker(qtbot, window)
    assert third not in [r.path for r in window.model.results()]
    menu.close()


def test_show_in_folder_falls_back_to_opening_the_folder(monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    monkeypatch.setattr(launch, "_show_items_dbus", lambda path, failed: False)
    monkeypatch.setattr(launch.sys, "platform", "linux")
    photo = save(picture(1), tmp_path / "x.jpg")
    notes = []
    launch.show_in_folder(str(photo), notes.append)
    assert [u.toLocalFile() for u in opened] == [str(tmp_path)]
    assert notes == []  # the folder opened: nothing to say


def test_keyboard(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    type_and_wait(qtbot, window, "sunset")
    show_weaker(qtbot, window)
    window.field.setFocus()
    photos = [r.path for r in window.model.results()]
    qtbot.keyClick(window.field, Qt.Key.Key_Down)  # into the results
    assert window.view.hasFocus() and window.view.currentIndex().row() == 0
    qtbot.keyClick(window.view, Qt.Key.Key_Right)  # over the divider, if it comes next
    second = photos[1]
    assert window.current_result().path == second
    assert window.preview.result.path == second
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert [u.toLocalFile() for u in opened] == [second]
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == second
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.pages.currentWidget() is window.large
    qtbot.keyClick(window.large, Qt.Key.Key_Right)  # next photo in the large preview
    assert window.current_result().path == photos[2]
    qtbot.keyClick(window.large, Qt.Key.Key_Space)
    assert window.pages.currentWidget() is window.main_page
    qtbot.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.field.hasFocus()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Slash)
    assert window.field.hasFocus() and window.field.text() == "sunset"


def test_preview_shows_the_details_and_decodes_off_the_gui_thread(qtbot, window):
    type_and_wait(qtbot, window, "x")
    window.view.setCurrentIndex(window.model.index(0))
    result = window.model.result(0)
    pane = window.preview
    assert pane.name.text() == os.path.basename(result.path)
    assert pane.folder.text() == os.path.dirname(result.path)
    assert pane.dimensions.text() == "320 × 240 pixels"
    assert pane.size.text().startswith("JPEG, ") and "KB" in pane.size.text()
    qtbot.waitUntil(pane.image.has_image, timeout=10_000)
    assert pane.image.path == result.path


def test_thumbnails_load_in_the_background_and_are_cached_on_disk(qtbot, window, library):
    data_dir, _base = library
    type_and_wait(qtbot, window, "thumbs")
    window.view.viewport().repaint()  # paints placeholders and asks for thumbnails
    first = window.model.result(0).path
    qtbot.waitUntil(lambda: any(k[0] == first for k in window.loader._memory.items),
                    timeout=10_000)
    assert any(data_dir.thumbnails.rglob("*.jpg"))
    mime = window.model.mimeData([window.model.index(0), window.model.index(1)])
    assert [u.toLocalFile() for u in mime.urls()] == [first, window.model.result(1).path]


def test_zoom_with_ctrl_wheel_and_slider_persists(qtbot, window):
    from PySide6.QtCore import QPoint as Pt
    from PySide6.QtGui import QWheelEvent

    start = window.bar.zoom.value()
    event = QWheelEvent(QPointF(10, 10), QPointF(10, 10), Pt(0, 0), Pt(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    window.view.wheelEvent(event)
    assert window.bar.zoom.value() == start + 16
    assert window.delegate.thumb == start + 16
    assert window.prefs.zoom == start + 16


def test_progress_signals_update_the_status_bar(window):
    window._index_progress(IndexStatus("indexing", 120, 300, rate=12.0, eta=15.0))
    bar = window.status
    assert bar.progress_label.text() == "Indexing 120 of 300 · 12.0 photos/s · about 15 s left"
    assert (bar.bar.value(), bar.bar.maximum()) == (120, 300)
    assert not bar.pause_button.isHidden() and not bar.bar.isHidden()
    window._index_progress(IndexStatus("indexing", 120, 300, paused=True))
    assert bar.progress_label.text().endswith("paused")
    window._index_progress(IndexStatus("done"))
    assert bar.bar.isHidden() and bar.pause_button.isHidden()


def test_unexpected_error_opens_a_dialog_and_is_logged(qtbot, tmp_path, monkeypatch):
    import logging

    from PySide6.QtWidgets import QMessageBox

    from photofind.core.store.datadir import DataDir
    from photofind.gui.errors import ErrorReporter, setup_logging

    log_path = setup_logging(DataDir(tmp_path / "data"))
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(
        (box.text(), box.informativeText(), box.detailedText())))
    reporter = ErrorReporter(log_path)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        reporter.report(type(exc), exc, exc.__traceback__, "photofind-search")
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    text, informative, details = shown[0]
    assert "ValueError: boom" in informative and str(log_path) in informative
    assert "Traceback" in details
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "ValueError: boom" in log_path.read_text()
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "baseFilename", None) == str(log_path):
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_geometry_persists(qtbot, library, tmp_path, tiny_model):
    data_dir, _base = library
    prefs = make_prefs(tmp_path / "settings", tiny_model)
    first = open_window(qtbot, data_dir, prefs)
    first.resize(720, 520)
    first.close()
    second = open_window(qtbot, data_dir, prefs)
    assert (second.width(), second.height()) == (720, 520)


def test_dragged_results_carry_file_urls(qtbot, window):
    type_and_wait(qtbot, window, "drag")
    assert window.view.dragEnabled()
    assert window.model.supportedDragActions() == Qt.DropAction.CopyAction
    assert "text/uri-list" in window.model.mimeTypes()


def test_context_menu_point_outside_items_does_nothing(window):
    window._context_menu(QPoint(-5, -5))
    assert window.context_menu is None


@pytest.fixture(autouse=True)
def _clipboard_clean():
    yield
    app = QApplication.instance()
    if app is not None:
        QGuiApplication.clipboard().clear()


def test_fetching_a_model_shows_how_far_it_got_and_can_be_cancelled(qtbot, window, library):
    data_dir, _base = library
    window.index_ctl._progress(IndexStatus("model", model="ViT-B-32-256 (datacomp_s34b_b86k)"))
    assert window.status.progress_label.text().startswith("Loading the model ViT-B-32-256")
    assert not window.status.stop_button.isHidden()
    partial = data_dir.models / "models--org--repo" / "blobs" / "abc.incomplete"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * 3_000_000)
    try:
        qtbot.waitUntil(lambda: "3 MB so far" in window.status.progress_label.text(),
                        timeout=5000)
        stopped = []
        window.indexer.interrupt = lambda: stopped.append(True)
        window.status.stop_button.click()
        assert stopped and "Cancelled" in window.status.note.text()
    finally:
        partial.unlink()
        window.index_ctl._progress(IndexStatus("done"))
    assert not window.index_ctl.fetch_watch.isActive()


def test_dropping_two_photos_finds_photos_like_both(qtbot, window, library):
    _data, base = library
    a = str(base / "photos" / "home" / "photo-02.jpg")
    b = str(base / "photos" / "trips" / "photo-05.jpg")
    sent = []
    window.search._query.connect(lambda seq, query: sent.append(list(query.examples)))
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        drop(window, [a, b])
    assert sent == [[a, b]]  # one query with both (the core averages their vectors)
    assert window.bar.chip.paths == [a, b]
    assert "and 1 more" in window.bar.chip.label.text()
    show_weaker(qtbot, window)
    assert len(window.model.results()) == COUNT - 2  # both are the query, not its answer


def test_a_photo_that_cannot_be_shown_gets_a_plain_placeholder(qtbot, window, tmp_path):
    broken = tmp_path / "gone.jpg"
    broken.write_bytes(b"not a photo")
    loader = window.loader
    with qtbot.waitSignal(loader.ready, timeout=10_000,  # not the timeline's thumbnails
                          check_params_cb=lambda path: path == str(broken)):
        assert loader.pixmap(str(broken), 256) is None  # queued, not decoded here
    assert loader.failure(str(broken), 256)
    assert loader.pixmap(str(broken), 256) is None  # and not asked for again
    assert not loader._queue


def test_icons_follow_a_switch_to_the_dark_theme(qtbot, window):
    from PySide6.QtGui import QColor, QPalette

    def ink(button) -> int:  # the brightest opaque pixel of the button's icon
        image = button.icon().pixmap(24, 24).toImage()
        return max(QColor(image.pixel(x, y)).lightness() for x in range(image.width())
                   for y in range(image.height()) if QColor.fromRgba(image.pixel(x, y)).alpha() > 200)

    app = QApplication.instance()
    before = app.palette()
    button = window.bar.settings_button
    light_ink = ink(button)
    dark = QPalette(before)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        dark.setColor(group, QPalette.ColorRole.Window, QColor(40, 40, 40))
        dark.setColor(group, QPalette.ColorRole.WindowText, QColor(235, 235, 235))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(lambda: ink(button) > 200, timeout=5000)
    finally:
        app.setPalette(before)
    assert light_ink < 100
    qtbot.waitUntil(lambda: ink(button) < 100, timeout=5000)
