"""The desktop app's library side: the first run, indexing with progress and pause,
a model that cannot be had, another writer holding the library, folders, failures and
settings. Each test writes its own data directory."""

from __future__ import annotations

import os

import pytest
from gui_support import build_library, hidden_weaker, make_prefs, open_window, seed_onnx_cache
from imagezoo import picture, save

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.core.store.catalog import Catalog  # noqa: E402
from photofind.core.store.datadir import DataDir  # noqa: E402
from photofind.core.store.lock import WriterLock  # noqa: E402
from photofind.gui.settings_dialog import Choice  # noqa: E402


def finishing(qtbot, window, what: str, check=lambda report: True, timeout=60_000):
    """Wait (as a context manager) for the index worker to report `what` ("burst": a run
    of the LibraryWorker, whose report passes `check`)."""
    return qtbot.waitSignal(window.index_finished, timeout=timeout,
                            check_params_cb=lambda w, report: w == what and check(report))


def photos(folder, count, start=0):
    for i in range(start, start + count):
        save(picture(i), folder / f"p{i:03d}.jpg", quality=85)
    return folder


def roots_of(data_dir: DataDir) -> list[str]:
    catalog = Catalog.open_for_reading(data_dir.catalog)
    try:
        return catalog.roots() if catalog else []
    finally:
        if catalog:
            catalog.close()


def test_first_run_picks_folders_and_indexes_them(qtbot, tmp_path, tiny_model):
    lib = photos(tmp_path / "Pictures", 40)
    data_dir = DataDir(tmp_path / "data")
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    assert window.pages.currentWidget() is window.welcome
    welcome = window.welcome
    welcome.add_folder(str(lib))
    assert str(lib) in welcome.folders()
    stages = []
    window.indexer.progress.connect(lambda s: stages.append(s.stage))
    with finishing(qtbot, window, "burst", lambda r: r.added > 0):
        welcome.start_button.click()  # (files written moments ago may come in a later burst)
    qtbot.waitUntil(lambda: window.library.get("photos") == 40, timeout=30_000)
    assert "indexing" in stages and "model" in stages
    assert window.live
    assert roots_of(data_dir) == [str(lib.resolve())]
    qtbot.waitUntil(lambda: window.library.get("photos") == 40, timeout=10_000)
    assert window.pages.currentWidget() is window.main_page
    assert window.status.count.text() == "40 photos"
    assert window.status.bar.isHidden()
    qtbot.waitUntil(lambda: len(window.model.results()) == 40, timeout=20_000)  # the timeline
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClicks(window.field, "cat")
    assert len(window.model.results()) + hidden_weaker(window) == 40, \
        search_diagnosis(window, data_dir)


def search_diagnosis(window, data_dir: DataDir) -> str:
    """What the reader holds versus the catalog, for a search that missed photos."""
    searcher = window.searcher.searcher
    catalog = Catalog.open_for_reading(data_dir.catalog)
    try:
        rows = list(catalog.conn.execute("SELECT id, path, seq FROM photos ORDER BY seq"))
        shown = {r.path for r in window.model.results()}
        return (f"missing {[r for r in rows if r[1] not in shown]}; reader seq "
                f"{searcher.vectors.seq}, {len(searcher.vectors)} vectors; catalog max seq "
                f"{catalog.max_seq(searcher.model)}, index state {catalog.get_meta('index_state')}"
                f"; in reader: {[bool(searcher.vectors.index.contains(r[0])) for r in rows]}")
    finally:
        catalog.close()


def test_a_model_that_cannot_be_had_is_explained_and_the_demo_offered(qtbot, tmp_path):
    lib = photos(tmp_path / "Pictures", 3)
    data_dir = DataDir(tmp_path / "data")
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s"))  # the default model
    welcome = window.welcome
    welcome.add_folder(str(lib))
    with finishing(qtbot, window, "model_unavailable"):
        welcome.start_button.click()
    assert window.pages.currentWidget() is window.welcome
    assert not welcome.problem.isHidden()
    assert "could not be loaded" in welcome.problem_title.text()
    assert "could not be downloaded" in welcome.problem_text.text()
    details = welcome.problem_details.text()  # the core's own one-line reason
    assert "ViT-B-32-256" in details and "not on this machine" in details
    assert not welcome.problem_settings.isHidden() and welcome.start_button.isEnabled()
    assert roots_of(data_dir) == []  # nothing half-done was left behind


def test_index_progress_pause_and_resume(qtbot, tmp_path, tiny_model):
    lib = photos(tmp_path / "lib", 70)
    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "first", 2)], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    seen = []
    window.indexer.progress.connect(seen.append)
    window.status.pause_button.setChecked(True)  # paused before anything starts
    assert window.indexer.paused
    window.add_folders([str(lib)])
    qtbot.waitUntil(lambda: window.live and seen and seen[-1].paused, timeout=30_000)
    assert window.status.progress_label.text() == "Updating the library is paused"
    assert not window.status.pause_button.isHidden()
    assert window.status.count.text() == "2 photos"
    window.status.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: window.status.count.text() == "72 photos", timeout=30_000)
    indexing = [s for s in seen if s.stage == "indexing" and not s.paused]
    assert indexing[-1].done == indexing[-1].total
    assert any(s.rate > 0 and s.eta is not None for s in indexing)
    assert "added" in window.status.note.text()
    qtbot.waitUntil(lambda: window.status.bar.isHidden(), timeout=10_000)


def test_new_photos_appear_while_the_app_runs(qtbot, tmp_path, tiny_model):
    lib = photos(tmp_path / "lib", 3)
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model),
                         index_on_start=True)
    qtbot.waitUntil(lambda: window.live and not window.indexing, timeout=30_000)
    with qtbot.waitSignal(window.results_shown, timeout=20_000):
        qtbot.keyClicks(window.field, "garden")
    assert window.model.rowCount() == 3
    with finishing(qtbot, window, "burst", lambda r: r.added == 1):
        save(picture(99), lib / "new.jpg")
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=10_000)  # query rerun
    assert str(lib.resolve() / "new.jpg") in {r.path for r in window.model.results()}
    qtbot.waitUntil(lambda: window.status.count.text() == "4 photos", timeout=10_000)
    other = photos(tmp_path / "other", 2, start=50)
    window.add_folders([str(other)])  # through the running worker
    qtbot.waitUntil(lambda: window.status.count.text() == "6 photos", timeout=30_000)
    assert sorted(roots_of(data_dir)) == sorted([str(lib.resolve()), str(other.resolve())])
    with finishing(qtbot, window, "remove"):
        window.remove_folder(str(other.resolve()))
    assert roots_of(data_dir) == [str(lib.resolve())]


def test_another_writer_is_shown_plainly_and_searching_still_works(qtbot, tmp_path, tiny_model):
    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "lib", 5)], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    with WriterLock(data_dir.lock, "index"):
        with finishing(qtbot, window, "busy"):
            window.start_indexing()
        assert "another photofind" in window.status.note.text().lower()
        assert "searching still works" in window.status.note.text().lower()
        assert window.index_ctl.busy_retry.isActive()
        with qtbot.waitSignal(window.results_shown, timeout=20_000):
            qtbot.keyClicks(window.field, "dog")
        assert window.model.rowCount() == 5
    with finishing(qtbot, window, "burst"):
        window.index_ctl.busy_retry.timeout.emit()  # the retry, without waiting 30 s
    assert window.live and "another photofind" not in window.status.note.text().lower()


def test_failed_files_are_one_click_away(qtbot, tmp_path, tiny_model):
    lib = photos(tmp_path / "lib", 3)
    (lib / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    assert not window.status.failures.isHidden()
    assert window.status.failures.text() == "1 file could not be read"
    dialog = window.show_failures()
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=10_000)
    item = dialog.tree.topLevelItem(0)
    assert item.text(0) == str((lib / "broken.jpg").resolve())
    assert "not a recognised image" in item.text(1) or "could not be decoded" in item.text(1)
    dialog.close()


def test_library_dialog_lists_folders_and_removes_one(qtbot, tmp_path, tiny_model,
                                                      monkeypatch):
    a = photos(tmp_path / "a", 4)
    b = photos(tmp_path / "b", 2, start=10)
    data_dir = build_library(tmp_path / "data", [a, b], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    window.show_library()
    dialog = window.library_dialog
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 2, timeout=10_000)
    rows = {dialog.tree.topLevelItem(i).text(0): (dialog.tree.topLevelItem(i).text(1),
                                                  dialog.tree.topLevelItem(i).text(2))
            for i in range(2)}
    assert rows == {str(a.resolve()): ("4", "online"), str(b.resolve()): ("2", "online")}
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.tree.topLevelItem(1).setSelected(True)
    with finishing(qtbot, window, "remove"):
        dialog.remove_button.click()
    assert roots_of(data_dir) == [str(a.resolve())]
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: window.status.count.text() == "4 photos", timeout=10_000)
    assert sorted(p.name for p in b.iterdir()) == ["p010.jpg", "p011.jpg"]  # untouched


def test_offline_folder_is_said_plainly(qtbot, tmp_path, tiny_model):
    a = photos(tmp_path / "a", 2)
    gone = photos(tmp_path / "drive", 2, start=5)
    data_dir = build_library(tmp_path / "data", [a, gone], tiny_model)
    gone.rename(tmp_path / "unplugged")
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    assert window.status.count.text() == "4 photos · 1 folder offline"
    qtbot.waitUntil(lambda: len(window.model.results()) == 4, timeout=20_000)  # the timeline
    online = {os.path.dirname(r.path): r.online for r in window.model.results()}
    assert online == {str(a.resolve()): True, str(gone.resolve()): False}


def test_changing_the_model_asks_first(qtbot, tmp_path, tiny_model, other_model, monkeypatch):
    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "lib", 3)], tiny_model)
    seed_onnx_cache(data_dir, other_model)
    prefs = make_prefs(tmp_path / "s", tiny_model)
    window = open_window(qtbot, data_dir, prefs)
    current = ModelSpec.parse(tiny_model)
    new = ModelSpec.parse(other_model)
    asked = []

    def answer(choice):
        def question(*args, **kwargs):
            asked.append(args[2])
            return choice
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window.apply_settings(Choice(new, "cpu", 1), current)
    assert len(asked) == 1 and "3 photos again" in asked[0]
    assert not window.indexing
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with finishing(qtbot, window, "model"):
        window.apply_settings(Choice(new, "cpu", 1), current)
    qtbot.waitUntil(lambda: window.library.get("searchable") == 3
                    and window.library.get("model") == str(new), timeout=30_000)
    qtbot.waitUntil(lambda: window.searcher.searcher is not None
                    and window.searcher.searcher.spec == new, timeout=20_000)
    assert prefs.model == new.name


def test_settings_dialog_round_trip(qtbot, tiny_model):
    from photofind.gui.settings_dialog import DEMO, OTHER, SettingsDialog

    spec = ModelSpec.parse(tiny_model)
    dialog = SettingsDialog(spec, "gpu", 1)
    qtbot.addWidget(dialog)
    assert dialog.model.currentIndex() == OTHER and dialog.name.text() == spec.name
    assert dialog.choice() == Choice(spec, "gpu", 1)
    dialog.model.setCurrentIndex(DEMO)
    assert dialog.choice().spec == ModelSpec.demo()
    assert dialog.name.isHidden()
