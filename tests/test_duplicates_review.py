"""The desktop app's duplicates review (issue 21) through pytest-qt: real widgets on a real
library written with Pillow and indexed with the demo model; Move to Trash into a
temporary XDG data home (QFile.moveToTrash, the freedesktop Trash)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from gui_support import make_prefs, open_window  # noqa: E402

from photofind.core.store.datadir import DataDir  # noqa: E402
from photofind.demo.variants import write_duplicate_library  # noqa: E402


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A library of 3 scenes (original, exact copy, q60 re-encode, 50% resize) and a
    same-caption decoy each, indexed; the Trash in a temporary XDG data home."""
    from photofind.cli import main

    xdg = tmp_path / "xdg"
    xdg.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    items = write_duplicate_library(tmp_path / "photos", 3, variants=("copy", "q60", "half"),
                                    decoys=("same-caption",))
    assert main(["--data-dir", str(tmp_path / "data"), "index", str(tmp_path / "photos"),
                 "--model", "demo", "--json"]) == 0
    return DataDir(tmp_path / "data"), items, xdg / "Trash" / "files"


def open_review(qtbot, data: DataDir):
    from photofind.gui.duplicates_dialog import DuplicatesDialog

    dialog = DuplicatesDialog(data)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.shown, timeout=60_000) as shown:
        dialog.start()
        dialog.show()
    return dialog, shown.args[0]


def confirm(qtbot, dialog, answer: str) -> list[str]:
    """Click Move to Trash…, read the confirmation's list, and answer it."""
    from PySide6.QtCore import Qt

    qtbot.mouseClick(dialog.trash_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    assert box is not None and box.isVisible()
    listed = box.informativeText().splitlines()
    button = dialog.confirm_button if answer == "move" else next(
        b for b in box.buttons() if b is not dialog.confirm_button)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return listed


def test_review_shows_groups_keeper_and_differences(qtbot, library):
    data, _items, _trash = library
    dialog, groups = open_review(qtbot, data)
    assert groups == 3 and len(dialog.boxes) == 3
    for box in dialog.boxes:
        names = [Path(c.member.path).name for c in box.cards]
        assert names[0] == "original.jpg" and sorted(names) == [
            "copy.jpg", "half.jpg", "original.jpg", "q60.jpg"]
        assert box.cards[0].keep.isChecked() and not box.cards[0].trash.isEnabled()
        assert all(c.trash.isChecked() for c in box.cards[1:])
        half = next(c for c in box.cards if c.member.path.endswith("half.jpg"))
        assert "<b>320×240 · JPEG</b>" in half.details.text()  # differs from the keeper
        assert "Suggested to keep" in box.why.text()
    assert "Nothing is moved until you confirm" in dialog.summary.text()
    assert dialog.trash_button.text() == "&Move 9 to Trash…"  # Alt+M


def test_trash_only_after_confirming_the_listed_files(qtbot, library):
    data, items, trash = library
    dialog, _ = open_review(qtbot, data)
    first = dialog.boxes[0]
    q60 = next(c for c in first.cards if c.member.path.endswith("q60.jpg"))
    q60.keep.click()  # keep the re-encode instead: the original becomes a pick-able copy
    original = first.cards[0]
    assert not q60.trash.isEnabled() and original.trash.isEnabled()
    assert not original.trash.isChecked()
    assert "You chose to keep q60.jpg" in first.why.text()
    for box in dialog.boxes[1:]:
        for card in box.cards:
            card.trash.setChecked(False)
    picked = sorted(c.member.path for c in first.cards if c.trash.isChecked())
    assert len(picked) == 2  # the copy and the half; not the kept q60, not the original
    listed = confirm(qtbot, dialog, "cancel")
    assert sorted(listed) == picked
    assert dialog.outcome.text() == "Nothing was moved."
    assert all(Path(p).exists() for p in picked) and not trash.exists()
    with qtbot.waitSignal(dialog.trashed, timeout=30_000):
        confirm(qtbot, dialog, "move")
    assert sorted(p.name for p in trash.iterdir()) == ["copy.jpg", "half.jpg"]
    assert not any(Path(p).exists() for p in picked)
    assert Path(q60.member.path).exists() and Path(original.member.path).exists()
    assert dialog.outcome.text().startswith("Moved 2 photo(s) to the Trash")
    everything = {str(i.path) for i in items}
    assert all(Path(p).exists() for p in everything - set(picked))


def test_a_file_changed_since_the_pass_is_refused_and_nothing_moved(qtbot, library):
    data, _items, trash = library
    dialog, _ = open_review(qtbot, data)
    for box in dialog.boxes[1:]:
        for card in box.cards:
            card.trash.setChecked(False)
    changed = next(c for c in dialog.boxes[0].cards if c.member.path.endswith("half.jpg"))
    with open(changed.member.path, "ab") as f:
        f.write(b"edited")  # changed between the pass and the click
    with qtbot.waitSignal(dialog.trashed, timeout=30_000):
        confirm(qtbot, dialog, "move")
    text = dialog.outcome.text()
    assert text.startswith("Not moved: half.jpg changed since the duplicates were found")
    assert len(text.splitlines()) == 1
    assert not trash.exists() or not list(trash.iterdir())
    assert all(Path(c.member.path).exists() for c in dialog.boxes[0].cards)


def test_a_trashed_photo_leaves_the_results(qtbot, library, capsys):
    from photofind.cli import main

    data, items, _trash = library
    dialog, _ = open_review(qtbot, data)
    for box in dialog.boxes[1:]:
        for card in box.cards:
            card.trash.setChecked(False)
    picked = {c.member.path for c in dialog.boxes[0].cards if c.trash.isChecked()}
    with qtbot.waitSignal(dialog.trashed, timeout=30_000):
        confirm(qtbot, dialog, "move")
    # the library worker (the window, `watch`) or the next `index` notices the deletion
    assert main(["--data-dir", str(data.root), "index", "--json"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data.root), "search", "--limit", "100", "--no-stack",
                 "--json"]) == 0
    paths = {r["path"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert paths and not paths & picked
    assert len(paths) == len(items) - len(picked)


def test_the_window_opens_the_review_from_its_menu(qtbot, library):
    data, _items, _trash = library
    prefs = make_prefs(data.root.parent / "prefs", "demo")
    window = open_window(qtbot, data, prefs)
    window.app_menu.duplicates_action.trigger()
    dialog = window.duplicates_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: len(dialog.boxes) == 3, timeout=60_000)
    assert dialog.isVisible()


def test_search_results_stack_copies_expand_and_the_setting_turns_it_off(qtbot, library):
    data, items, _trash = library
    prefs = make_prefs(data.root.parent / "prefs", "demo")
    window = open_window(qtbot, data, prefs)
    scene = next(i for i in items if i.kind == "original")
    caption = scene.group.split("-", 1)[1].replace("-", " ")  # "small red triangle on orange"
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.field.setText(caption)
        window.search_now(force=True)
    family = {str(i.path) for i in items if i.group == scene.group}
    shown = window.model.results()
    stacks = [r for r in shown if r.path in family]
    assert len(stacks) == 1, [r.path for r in shown]  # one tile for the four copies
    lead = stacks[0]
    assert {lead.path, *(c.path for c in lead.copies)} == family
    # its context menu shows the copies as tiles of their own
    row = window.model.row_of(lead.path)
    window._context_menu(window.view.visualRect(window.model.index(row)).center())
    action = next(a for a in window.context_menu.actions() if a.text().startswith("Show the"))
    assert action.text() == "Show the 3 copies"
    action.trigger()
    assert family <= {r.path for r in window.model.results()}
    # ≡ → Stack copies in results, unticked: every copy is a tile, and it is remembered
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        window.app_menu.stack_action.trigger()
    assert prefs.stack_copies is False
    flat = window.model.results()
    assert family <= {r.path for r in flat} and not any(r.copies for r in flat)
