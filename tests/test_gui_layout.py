"""What a new user sees of the window (issue 16): every label shows its whole text on every
page at any window size, the window has sensible minimums, the empty detail panel leaves
the room to the grid, and file names keep the words that say what a photo shows."""

from __future__ import annotations

import pytest
from gui_support import (
    build_library,
    clipped_labels,
    make_prefs,
    open_window,
    settle,
    show_weaker,
)
from imagezoo import picture, save

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from photofind.core.store.datadir import DataDir  # noqa: E402

NAMES = ["small-red-circle-on-yellow-0010.jpg", "large-blue-square-on-purple-0011.jpg",
         "green-star-and-white-triangle-on-black-0012.jpg", "beach.jpg"]
SIZES = [(1240, 800), (900, 620), (700, 500), (640, 480), (400, 300)]


@pytest.fixture(scope="module")
def library(tmp_path_factory, tiny_model):
    base = tmp_path_factory.mktemp("gui-layout")
    folder = base / "Pictures"
    for i, name in enumerate(NAMES * 3):
        save(picture(i), folder / (name if i < len(NAMES) else f"{i:02d}-{name}"), quality=85)
    return build_library(base / "data", [folder], tiny_model), folder


@pytest.fixture
def window(qtbot, library, tmp_path, tiny_model):
    data_dir, _folder = library
    return open_window(qtbot, data_dir, make_prefs(tmp_path / "settings", tiny_model))


def no_clipping_at_any_size(qtbot, window) -> dict:
    seen = {}
    for size in SIZES:
        window.resize(*size)
        settle(qtbot, window)
        seen[size] = clipped_labels(window)
    return {size: problems for size, problems in seen.items() if problems}


def test_the_timeline_and_its_chips_show_their_whole_text_at_any_size(qtbot, window):
    assert window.results_stack.currentWidget() is window.view  # the empty box: the timeline
    assert window.chips.isVisible() and window.chips.sort_button.isVisible()
    assert no_clipping_at_any_size(qtbot, window) == {}


def test_an_error_page_shows_the_reason_at_any_size(qtbot, window, tmp_path):
    not_a_photo = tmp_path / "some-non-image.jpg"
    not_a_photo.write_text("a shopping list, not a photo\n")
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.find_similar([str(not_a_photo)])
    assert window.results_stack.currentWidget() is window.message
    assert "not a recognised image" in window.message.body.text()
    assert no_clipping_at_any_size(qtbot, window) == {}


def test_a_selected_photo_and_its_details_show_whole(qtbot, window):
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "a red circle")
    window.view.setCurrentIndex(window.model.index(0))
    assert no_clipping_at_any_size(qtbot, window) == {}


def test_the_welcome_page_and_its_problems_show_whole(qtbot, tmp_path):
    window = open_window(qtbot, DataDir(tmp_path / "data"), make_prefs(tmp_path / "s"))
    assert window.pages.currentWidget() is window.welcome
    window.welcome.add_folder(str(tmp_path / "a-folder-with-a-rather-long-name" / "Pictures"))
    assert no_clipping_at_any_size(qtbot, window) == {}
    window.welcome.show_model_problem(
        "model ViT-B-32-256 (datacomp_s34b_b86k) is not on this machine and could not be "
        f"downloaded; connect to the internet once so photofind can fetch it into {tmp_path}")
    assert no_clipping_at_any_size(qtbot, window) == {}


def test_the_empty_detail_panel_leaves_the_room_to_the_grid(qtbot, library, tmp_path,
                                                           tiny_model):
    data_dir, _folder = library
    prefs = make_prefs(tmp_path / "settings", tiny_model)
    window = open_window(qtbot, data_dir, prefs)
    window.resize(1240, 800)
    settle(qtbot, window)
    assert window.splitter.panel_width() == 0  # nothing selected: the grid has the room
    assert window.results_stack.width() >= window.splitter.width() - 20
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "a red circle")
    assert window.splitter.panel_width() == 0
    window.view.setCurrentIndex(window.model.index(0))
    settle(qtbot, window)
    assert 300 <= window.splitter.panel_width() <= 380  # a photo selected: its details
    assert window.preview.name.text() in NAMES or "-" in window.preview.name.text()

    # the person drags the panel wider; the width is remembered, also after a restart
    handle = window.splitter.handle(1)
    middle = handle.rect().center()
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=middle)
    qtbot.mouseMove(handle, middle - QPoint(160, 0))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=middle - QPoint(160, 0))
    settle(qtbot, window)
    dragged = window.splitter.panel_width()
    assert dragged >= 460
    window.clear_query()  # nothing selected: the panel makes way again
    settle(qtbot, window)
    assert window.splitter.panel_width() == 0
    assert "best matches" not in window.status.note.text()  # about no query now
    window.close()

    again = open_window(qtbot, data_dir, prefs)
    again.resize(1240, 800)
    with qtbot.waitSignal(again.results_shown, timeout=30_000):
        qtbot.keyClicks(again.field, "a red circle")
    assert again.splitter.panel_width() == 0
    again.view.setCurrentIndex(again.model.index(0))
    settle(qtbot, again)
    assert abs(again.splitter.panel_width() - dragged) <= 2


def test_the_window_has_sensible_minimums(qtbot, window):
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "a red circle")
    window.view.setCurrentIndex(window.model.index(0))
    for size in [(640, 480), (400, 300)]:
        window.resize(*size)
        settle(qtbot, window)
        assert window.width() >= 640 and window.height() >= 440
        # the search field still shows the start of what is typed, or the placeholder
        assert window.field.width() >= 260
        metrics = window.field.fontMetrics()
        assert metrics.horizontalAdvance("Describe what the photo") < window.field.width() - 60
        # the grid wraps its cells: it never scrolls sideways
        assert not window.view.horizontalScrollBar().isVisible()
        assert window.view.horizontalScrollBar().maximum() == 0
        assert window.results_stack.width() >= 220
    assert clipped_labels(window) == []


def test_file_names_keep_their_first_words(qtbot, window):
    from photofind.gui.delegate import name_lines

    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "a red circle")
    metrics = window.view.fontMetrics()
    for zoom in (120, 176):
        window.bar.zoom.setValue(zoom)
        cell = window.view.gridSize()
        width = cell.width() - 2 * 6
        for row in range(window.model.rowCount()):
            if window.model.result(row) is None:  # the divider's row
                continue
            index = window.model.index(row)
            name = index.data(Qt.ItemDataRole.DisplayRole)
            lines = name_lines(name, metrics, width - 4)
            assert 1 <= len(lines) <= 2
            shown = "".join(lines)
            assert shown == name or (shown.endswith("…") and name.startswith(shown[:-1])), \
                (zoom, name, lines)
            assert all(metrics.horizontalAdvance(line) <= width - 4 for line in lines)
            assert name in index.data(Qt.ItemDataRole.ToolTipRole)
        # the cell is tall enough for both lines under the thumbnail
        assert cell.height() >= window.delegate.box_height + 2 * metrics.height()
    long_name = "small-red-circle-on-yellow-0010.jpg"
    lines = name_lines(long_name, metrics, 140)
    assert lines[0].startswith("small-red-circle"), lines
    show_weaker(qtbot, window)
    row = next(r for r in range(window.model.rowCount()) if window.model.result(r)
               and window.model.result(r).path.endswith("/" + long_name))
    window.view.setCurrentIndex(window.model.index(row))
    assert window.preview.name.text() == long_name  # the whole name in the detail panel
