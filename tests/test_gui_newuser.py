"""What got in a new user's way in the desktop app (issue 16), driven as a person does:
a model change that failed and was undone, the lock holder's name, the welcome page's
model problem, Show in folder with no file manager, the demo model and your own folder,
long queries, help and the application menu, the match score and the selection count."""

from __future__ import annotations

import pytest
from gui_support import build_library, make_prefs, open_window, show_weaker
from imagezoo import picture, save

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.gui.settings_dialog import Choice  # noqa: E402


def finishing(qtbot, window, what: str, check=lambda report: True, timeout=60_000):
    return qtbot.waitSignal(window.index_finished, timeout=timeout,
                            check_params_cb=lambda w, report: w == what and check(report))


def photos(folder, count, start=0):
    for i in range(start, start + count):
        save(picture(i), folder / f"p{i:03d}.jpg", quality=85)
    return folder


@pytest.fixture
def yes(monkeypatch):
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else kwargs.get("text", ""))
        return QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_back_to_the_library_model_after_a_failed_change_indexes_again(
        qtbot, tmp_path, tiny_model, yes):
    lib = photos(tmp_path / "lib", 3)
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model),
                         index_on_start=True)
    qtbot.waitUntil(lambda: window.live and not window.indexing, timeout=30_000)
    current = ModelSpec.parse(tiny_model)
    missing = ModelSpec.parse(f"local-dir:{tmp_path / 'no-such-model'}")
    with finishing(qtbot, window, "model_unavailable"):
        window.apply_settings(Choice(missing, "cpu", 1), current)
    assert "not indexed" in window.status.note.text()
    assert not window.live

    # Settings → back to the library's own model → OK: photofind keeps it current again
    window.apply_settings(Choice(current, "cpu", 1), current)
    qtbot.waitUntil(lambda: window.live, timeout=30_000)
    assert "not indexed" not in window.status.note.text()
    with finishing(qtbot, window, "burst", lambda r: r.added == 1):
        save(picture(50), lib / "copied-in.jpg")
    qtbot.waitUntil(lambda: window.library.get("photos") == 4, timeout=20_000)


def test_the_cli_names_the_desktop_app_as_the_lock_holder(qtbot, tmp_path, tiny_model, capsys):
    from photofind.cli import main

    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "lib", 2)], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model),
                         index_on_start=True)
    qtbot.waitUntil(lambda: window.live, timeout=30_000)
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir.root), "index"]) == 1
    err = capsys.readouterr().err
    assert "'photofind gui'" in err and "watch" not in err, err


def test_a_query_longer_than_the_model_reads_says_so(qtbot, tmp_path, tiny_model):
    from gui_support import clipped_labels, settle

    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "lib", 3)], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    words = ("a sunny beach with children building a tall sand castle next to a red bucket "
             "while their dog runs along the water and two sailing boats pass far out at "
             "sea under a few white clouds in the late afternoon light").split()
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.field.setText(" ".join(words))
        window.search_now()
    note = window.status.note.text()
    assert f"of your {len(words)} words were used" in note, note
    used = int(note.split("Only the first ")[1].split(" ")[0])
    assert 5 < used < len(words)  # the tiny model reads 30 tokens
    window.resize(640, 480)
    settle(qtbot, window)
    assert clipped_labels(window.status) == []
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.field.setText("a sunny beach")
        window.search_now()
    assert "words were used" not in window.status.note.text()


@pytest.fixture
def small_window(qtbot, tmp_path, tiny_model):
    lib = photos(tmp_path / "lib", 4)
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "a garden")
    window.view.setCurrentIndex(window.model.index(0))
    return window


def test_show_in_folder_says_so_when_no_file_manager_answers(qtbot, small_window,
                                                              monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from photofind.gui import launch

    window = small_window
    asked = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        lambda url: asked.append(url.toLocalFile()) or False)  # nothing answers
    monkeypatch.setattr(launch.sys, "platform", "linux")
    path = window.current_result().path

    # no session bus to ask a file manager: the folder is tried, and the failure said
    monkeypatch.setattr(launch, "_show_items_dbus", lambda p, failed: False)
    window.preview.folder_button.click()
    assert asked == [str(tmp_parent(path))]
    note = window.status.note.text()
    assert note.startswith("No file manager answered") and str(tmp_parent(path)) in note

    # a file manager asked over D-Bus does not answer (later): the same, when it is known
    window.status.set_note("")
    later = []
    monkeypatch.setattr(launch, "_show_items_dbus", lambda p, failed: later.append(failed)
                        or True)
    window.preview.folder_button.click()
    assert window.status.note.text() == ""
    later[0]()  # the call failed
    assert window.status.note.text().startswith("No file manager answered")

    # Open with no app for the photo: said, and the folder opened instead
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(
        url.toLocalFile()) or url.toLocalFile() != path)
    window.preview.open_button.click()
    assert opened == [path, str(tmp_parent(path))]
    assert window.status.note.text().endswith("opened its folder instead.")


def tmp_parent(path: str):
    import os

    return os.path.dirname(path)


def test_the_welcome_pages_model_problem_speaks_the_apps_language(qtbot, tmp_path,
                                                                  monkeypatch):
    from PySide6.QtWidgets import QLabel, QPushButton

    from photofind.core.store.datadir import DataDir
    from photofind.gui.settings_dialog import SettingsDialog

    lib = photos(tmp_path / "Pictures", 2)
    window = open_window(qtbot, DataDir(tmp_path / "data"), make_prefs(tmp_path / "s"))
    welcome = window.welcome
    welcome.add_folder(str(lib))
    with finishing(qtbot, window, "model_unavailable"):
        welcome.start_button.click()  # the standard model: not here, and no network
    assert not welcome.problem.isHidden()
    shown = [w for w in welcome.findChildren(QLabel) if w.isVisible() and w.text()]
    text = " ".join(label.text() for label in shown)
    assert "--" not in text and "local-dir" not in text, text  # no command-line flags
    assert "ViT-B-32-256" in welcome.problem_details.text()
    buttons = [b.text().replace("&", "") for b in welcome.findChildren(QPushButton)
               if b.isVisible()]
    assert sum("demo" in b.lower() for b in buttons) == 1, buttons  # one way to the demo
    assert "Settings" in text and "Settings…" in buttons  # the Settings it speaks of

    opened = []
    monkeypatch.setattr(SettingsDialog, "exec",
                        lambda dialog: opened.append(dialog) or SettingsDialog.DialogCode.Rejected)
    welcome.problem_settings.click()
    assert len(opened) == 1


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    from photofind.demo import write_library

    base = tmp_path_factory.mktemp("demo-data")
    write_library(base / "data" / "demo-library", 12)
    return build_library(base / "data", [base / "data" / "demo-library"], "demo")


def answering(monkeypatch, button_text: str | None, seen: list):
    """QMessageBox.exec, as a person reads the box and presses `button_text` (None:
    Cancel)."""
    def exec_(box):
        seen.append(f"{box.windowTitle()}\n{box.text()}\n{box.informativeText()}")
        for button in box.buttons():
            if (button_text is None and box.buttonRole(button)
                    == QMessageBox.ButtonRole.RejectRole) or button.text() == button_text:
                button.click()
                return 0
        raise AssertionError(f"no button {button_text!r}")
    monkeypatch.setattr(QMessageBox, "exec", exec_)


def test_adding_your_own_folder_to_a_demo_library_warns_and_offers_a_real_model(
        qtbot, tmp_path, demo_data, monkeypatch):
    import shutil as sh

    from photofind.core.store.datadir import DataDir

    data_dir = DataDir(tmp_path / "data")
    sh.copytree(demo_data.root, data_dir.root)
    own = photos(tmp_path / "Holidays", 2)
    prefs = make_prefs(tmp_path / "s", "demo")
    window = open_window(qtbot, data_dir, prefs)
    seen = []

    answering(monkeypatch, None, seen)  # Cancel: nothing happens
    window.add_folders([str(own)])
    assert len(seen) == 1 and "demo model" in seen[0] and "Holidays" in seen[0]
    assert not window.indexing

    answering(monkeypatch, "Switch to the standard model", seen)
    with finishing(qtbot, window, "model_unavailable"):  # no network for it here
        window.add_folders([str(own)])
    assert prefs.model == ""  # the standard model, from now on
    assert "not available" in window.status.note.text()

    answering(monkeypatch, "Add with the demo model", seen)
    with finishing(qtbot, window, "index"):
        window.add_folders([str(own)])
    qtbot.waitUntil(lambda: str(own.resolve()) in window.library.get("roots", []),
                    timeout=20_000)
    assert len(seen) == 3

    seen.clear()  # the demo's own folder needs no warning
    window.add_folders([str(data_dir.root / "demo-library")])
    assert seen == []


def test_f1_and_the_menu_give_help_about_and_the_rest(qtbot, tmp_path, tiny_model):
    from PySide6.QtCore import Qt

    from photofind import __version__

    data_dir = build_library(tmp_path / "data", [photos(tmp_path / "lib", 2)], tiny_model)
    window = open_window(qtbot, data_dir, make_prefs(tmp_path / "s", tiny_model))
    window.activateWindow()
    qtbot.keyClick(window.field, Qt.Key.Key_F1)
    dialog = window.app_menu.help_dialog
    assert dialog is not None and dialog.isVisible()
    text = " ".join(label.text() for label in dialog.findChildren(type(window.status.note)))
    assert "Ctrl+F" in text and "Space" in text and "F1" in text
    assert str(data_dir.root) in text and str(data_dir.logs / "photofind-gui.log") in text
    assert str(tmp_path / "s" / "settings.ini") in text
    from gui_support import clipped_labels, settle

    settle(qtbot, dialog)
    assert clipped_labels(dialog) == []
    dialog.close()

    menu = window.bar.menu_button.menu()
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Library folders…", "Duplicates…", "Stack copies in results", "Settings…",
        "Help and keyboard shortcuts", "About photofind", "Quit"]
    shortcuts = {a.text(): a.shortcut().toString() for a in menu.actions() if a.text()}
    assert shortcuts["Help and keyboard shortcuts"] == "F1"
    assert shortcuts["Duplicates…"] == "Ctrl+Shift+D"
    assert shortcuts["Quit"] == "Ctrl+Q"
    window.app_menu.about_action.trigger()
    about = window.app_menu.about_box
    assert about.isVisible()
    assert f"photofind {__version__}" in about.text() and "Licence: MIT" in about.text()
    assert ModelSpec.parse(tiny_model).name in about.text()  # the model in use
    about.close()
    window.app_menu.library_action.trigger()
    assert window.library_dialog is not None and window.library_dialog.isVisible()
    window.library_dialog.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window.field, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()


def test_the_detail_panel_shows_the_score_and_the_status_bar_the_selection(
        qtbot, small_window):
    from PySide6.QtCore import QItemSelectionModel

    window = small_window
    best = window.model.result(0)
    assert window.preview.match.isVisible()
    assert window.preview.match.text() == f"{best.score:.3f}"
    assert window.status.selection.isHidden()  # one photo: nothing to count
    show_weaker(qtbot, window)
    rows = [window.model.row_of(r.path) for r in window.model.results()]  # not the divider
    window.view.setCurrentIndex(window.model.index(rows[0]))
    selection = window.view.selectionModel()
    for row in rows[1:3]:
        selection.select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    assert window.status.selection.isVisible()
    assert window.status.selection.text() == "· 3 selected"
    window.view.setCurrentIndex(window.model.index(rows[3]))  # a plain click: one again
    assert window.status.selection.isHidden()
    assert window.preview.match.text() == f"{window.model.result(rows[3]).score:.3f}"
