"""The desktop app's query language (issue 20) on the dated demo library, through real
widgets: the timeline an empty box shows, filter chips, the weaker-matches divider, the
"no good matches" state, the sort menu, offline photos, and a malformed filter said in
the window."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from gui_support import build_library, hidden_weaker, make_prefs, open_window, show_weaker

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QDesktopServices  # noqa: E402

from photofind.demo import parse_stem, scene_matches, write_library  # noqa: E402
from photofind.gui import search_controller  # noqa: E402
from photofind.gui.results_sections import Divider, Header, Item  # noqa: E402

COUNT = 300


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    """`photofind demo`'s library: EXIF dates over five years in YEAR/YEAR-MONTH folders."""
    base = tmp_path_factory.mktemp("gui-query")
    folder = base / "demo-library"
    write_library(folder, COUNT, dated=True)
    return build_library(base / "data", [folder], "demo"), folder


@pytest.fixture
def window(qtbot, demo_library, tmp_path):
    data_dir, _folder = demo_library
    win = open_window(qtbot, data_dir, make_prefs(tmp_path / "settings", "demo"))
    win.chips.today = lambda: dt.date(2024, 6, 15)
    qtbot.waitUntil(lambda: bool(win.model.results()), timeout=30_000)  # the timeline
    return win


def search(qtbot, window, text: str) -> None:
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.field.setText(text)
        window.search_now()


def taken(window) -> list[str]:
    return [r.taken for r in window.model.results()]


def trigger(button, text: str) -> None:
    """Open a chip's menu as a click would, and choose `text`."""
    menu = button.menu()
    menu.aboutToShow.emit()
    action = next(a for a in menu.actions() if a.text() == text)
    action.trigger()


def test_the_empty_box_is_a_timeline_by_month_loading_pages_as_one_scrolls(
        qtbot, demo_library, tmp_path, monkeypatch):
    monkeypatch.setattr(search_controller, "PAGE", 60)
    data_dir, _folder = demo_library
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "settings", "demo"))
    window.resize(900, 600)
    qtbot.waitUntil(lambda: len(window.model.results()) == 60, timeout=30_000)
    assert window.field.text() == "" and window.results_stack.currentWidget() is window.view
    assert isinstance(window.model.entry(0), Header)
    bar = window.view.verticalScrollBar()
    while len(window.model.results()) < COUNT:  # scrolling down loads the next pages
        shown = len(window.model.results())
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda n=shown: len(window.model.results()) > n, timeout=20_000)
    dates = taken(window)
    assert dates == sorted(dates, reverse=True)  # newest first, across pages
    assert len({r.path for r in window.model.results()}) == COUNT
    headers = [e.text for e in window.model.entries() if isinstance(e, Header)]
    assert len(headers) == len(set(headers))  # one header per month, none repeated
    months = {dt.datetime.fromisoformat(d).strftime("%B %Y") for d in dates}
    assert set(headers) == months
    assert headers[0] == dt.datetime.fromisoformat(dates[0]).strftime("%B %Y")
    for row in range(window.model.rowCount()):  # each header starts a row of the grid
        if isinstance(window.model.entry(row), Header):
            assert row % window.model.columns == 0
            # ... as a title cell beside its month's first photo, not a blank band above it
            beside = window.model.index(row + 1, 0)
            assert isinstance(window.model.entry(row + 1), Item)
            header_rect = window.view.visualRect(window.model.index(row, 0))
            assert window.view.visualRect(beside).top() == header_rect.top()


def test_a_malformed_filter_is_one_line_in_the_window(qtbot, window):
    search(qtbot, window, "red circle after:yesterday-ish")
    assert window.results_stack.currentWidget() is window.message
    assert "after:yesterday-ish" in window.message.body.text()
    assert "\n" not in window.message.body.text()
    assert window.model.rowCount() == 0
    search(qtbot, window, "red circle after:2023")  # fixed: results again
    assert window.results_stack.currentWidget() is window.view
    assert all(t >= "2023" for t in taken(window))


def test_typed_filters_are_chips_and_removing_a_chip_edits_the_query(qtbot, window):
    search(qtbot, window, "red circle in:2023 orientation:landscape")
    assert window.chips.chip_labels() == ["in 2023", "Landscape"]
    show_weaker(qtbot, window)
    assert all("/2023/" in r.path for r in window.model.results())
    chip = window.chips.chips[0]
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert window.field.text().split() == ["red", "circle", "orientation:landscape"]
    assert window.chips.chip_labels() == ["Landscape"]
    show_weaker(qtbot, window)
    years = {Path(r.path).parent.parent.name for r in window.model.results()}
    assert len(years) > 1


def test_chip_menus_filter_the_timeline_search_and_similar(qtbot, window, demo_library):
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        trigger(window.chips.date_button, "Last year")  # 2023: the test's today is 2024
    assert window.field.text().split() == ["after:2023", "before:2024"]
    assert window.chips.chip_labels() == ["2023"]
    assert taken(window) and all(t.startswith("2023") for t in taken(window))
    assert window.model.divider_row() is None  # the timeline: no weaker matches
    window.chips.folders.sort()
    assert any(f.rstrip("/").endswith("2023-05") for f in window.chips.folders)
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        trigger(window.chips.folder_button, "2023-05")
    assert window.chips.chip_labels() == ["2023", "in 2023-05"]
    assert all("/2023-05/" in r.path for r in window.model.results())
    photo = window.model.results()[0].path
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.find_similar([photo])  # the filters stay: similar photos of May 2023
    assert window.bar.chip.paths == [photo]
    show_weaker(qtbot, window)
    shown = [r.path for r in window.model.results()]
    assert shown and photo not in shown and all("/2023-05/" in p for p in shown)


def test_good_matches_first_and_the_rest_behind_a_divider(qtbot, window, demo_library):
    _data, folder = demo_library
    search(qtbot, window, "red circle")
    shown = window.model.results()
    hidden = hidden_weaker(window)
    assert shown and hidden > 0 and len(shown) + hidden == min(COUNT, window.prefs.result_limit)
    assert all(r.good for r in shown)
    hits = sum(scene_matches(parse_stem(Path(r.path).stem), "red", "circle") for r in shown)
    assert hits / len(shown) >= 0.8
    divider = window.model.entry(window.model.divider_row())
    assert isinstance(divider, Divider) and not divider.expanded
    assert window.model.divider_row() % window.model.columns == 0
    assert f"{len(shown)} good matches" in window.status.note.text()
    show_weaker(qtbot, window)  # a click opens it
    after = window.model.results()
    assert len(after) == len(shown) + hidden
    assert [r.path for r in after[:len(shown)]] == [r.path for r in shown]
    assert not any(r.good for r in after[len(shown):])
    assert window.model.row_of(after[len(shown)].path) > window.model.divider_row()


def test_no_good_matches_says_so_and_still_offers_the_closest(qtbot, window):
    search(qtbot, window, "asdfgh")
    assert window.view.banner.isVisible()
    assert "No good matches for “asdfgh”" in window.view.banner.text()
    assert window.results_stack.currentWidget() is window.view
    assert len(window.model.results()) > 0 and not any(r.good for r in window.model.results())
    assert window.view.viewportMargins().top() > 0  # the note sits above the photos
    search(qtbot, window, "red circle")
    assert not window.view.banner.isVisible()


def test_sort_menu_orders_by_date_with_day_headers(qtbot, window):
    search(qtbot, window, "red circle")
    relevance = [r.path for r in window.model.results()]
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        trigger(window.chips.sort_button, "Newest first")
    assert window.chips.sort_button.text() == "Newest first"
    good = window.model.results()
    assert sorted(r.path for r in good) == sorted(relevance)  # the same good matches
    dates = [r.taken for r in good]
    assert dates == sorted(dates, reverse=True)
    assert isinstance(window.model.entry(0), Header)
    first_day = dt.datetime.fromisoformat(dates[0])
    assert window.model.entry(0).text == f"{first_day:%A} {first_day.day} {first_day:%B %Y}"
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.clear_query()  # the timeline, in the order chosen
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        trigger(window.chips.sort_button, "Oldest first")
    dates = taken(window)
    assert dates == sorted(dates) and dates[0].startswith("2021")


def test_photos_on_an_unplugged_drive_are_greyed_and_never_opened(
        qtbot, window, demo_library, tmp_path, monkeypatch):
    _data, folder = demo_library
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    moved = folder.parent / "unplugged"
    os.rename(folder, moved)
    try:
        search(qtbot, window, "blue square")
        show_weaker(qtbot, window)
        results = window.model.results()
        assert results and not any(r.online for r in results)
        window.view.setCurrentIndex(window.model.index(window.model.row_of(results[0].path)))
        assert window.preview.offline.isVisible()
        assert "offline" in window.preview.offline.text()
        tip = window.model.index(window.model.row_of(results[0].path)).data(
            Qt.ItemDataRole.ToolTipRole)
        assert "offline" in tip
        window.preview.open_button.click()
        assert opened == [] and "offline" in window.status.note.text()
        window.status.set_note("")
        window.preview.folder_button.click()
        assert opened == [] and "offline" in window.status.note.text()
        window.view.viewport().repaint()  # the greyed cells paint without trouble
    finally:
        os.rename(moved, folder)
    search(qtbot, window, "blue square circle")
    show_weaker(qtbot, window)
    assert all(r.online for r in window.model.results())
    window.view.setCurrentIndex(window.model.index(window.model.row_of(
        window.model.results()[0].path)))
    assert not window.preview.offline.isVisible()
