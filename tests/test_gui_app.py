"""Starting the desktop app: `photofind gui [IMAGE]` and the `photofind-gui` entry point."""

from __future__ import annotations

import logging

import pytest
from gui_support import build_library, hidden_weaker, show_weaker
from imagezoo import picture, save

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    """QSettings() without arguments writes under tmp_path, not the real home."""
    import os

    home = os.path.join(os.path.expanduser("~"), ".config")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "config"))
    yield
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, home)


@pytest.fixture
def no_log_handlers():
    before = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers[:]:
        if handler not in before:
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_photofind_gui_image_opens_find_similar(qtbot, tmp_path, tiny_model, monkeypatch,
                                                isolated_settings, no_log_handlers):
    from photofind.cli import main
    from photofind.gui.window import MainWindow

    lib = tmp_path / "lib"
    for i in range(6):
        save(picture(i), lib / f"p{i}.jpg")
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    seen = {}

    def fake_exec(*_args):
        window = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, MainWindow) and w.isVisible())
        qtbot.waitUntil(lambda: len(window.model.results()) + hidden_weaker(window) == 5,
                        timeout=30_000)  # the other 5: the photo itself is the chip
        seen["chip"] = window.bar.chip.paths
        show_weaker(qtbot, window)
        seen["shown"] = sorted(r.path for r in window.model.results())
        seen["title"] = window.windowTitle()
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert main(["--data-dir", str(data_dir.root), "gui", str(lib / "p2.jpg")]) == 0
    others = sorted(str(lib / f"p{i}.jpg") for i in range(6) if i != 2)
    assert seen == {"chip": [str(lib / "p2.jpg")], "shown": others, "title": "photofind"}
    assert (data_dir.logs / "photofind-gui.log").exists()
    saved = QSettings(str(tmp_path / "config" / "photofind" / "photofind.conf"),
                      QSettings.Format.IniFormat)
    assert saved.value("window/geometry") is not None


def opened_window(qtbot, monkeypatch, look) -> dict:
    """Make QApplication.exec look at the window the app opened (`look(window)` → what
    it saw) and close it, as a person would."""
    from photofind.gui.window import MainWindow

    seen = {}

    def fake_exec(*_args):
        window = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, MainWindow) and w.isVisible())
        seen.update(look(window))
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    return seen


def test_a_missing_image_opens_the_window_and_says_so_there(
        qtbot, tmp_path, tiny_model, monkeypatch, capsys, isolated_settings, no_log_handlers):
    """`photofind gui MISSING.jpg` (or "Open with" from a file manager): the window opens
    and says what is wrong; nothing on stderr that nobody would see."""
    from photofind.cli import main

    lib = tmp_path / "lib"
    for i in range(3):
        save(picture(i), lib / f"p{i}.jpg")
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    missing = tmp_path / "nope.jpg"

    def look(window):
        qtbot.waitUntil(lambda: window.notice is not None
                        and window.message.isVisible(), timeout=30_000)
        qtbot.wait(300)  # the library's status arrives meanwhile: the message stays
        return {"title": window.message.title.text(), "body": window.message.body.text()}

    seen = opened_window(qtbot, monkeypatch, look)
    assert main(["--data-dir", str(data_dir.root), "gui", str(missing)]) == 0
    assert seen["title"] == "photofind cannot open that photo."
    assert f"{missing} does not exist" in seen["body"]
    assert capsys.readouterr().err == ""


def test_photofind_gui_with_no_library_yet_says_so_on_the_welcome_page(
        qtbot, tmp_path, monkeypatch, isolated_settings, no_log_handlers):
    from photofind.gui import app

    photo = save(picture(1), tmp_path / "beach.jpg")

    def look(window):
        qtbot.waitUntil(lambda: not window.welcome.problem.isHidden(), timeout=30_000)
        return {"page": window.pages.currentWidget() is window.welcome,
                "text": window.welcome.problem_text.text()}

    seen = opened_window(qtbot, monkeypatch, look)
    assert app.main(["--data-dir", str(tmp_path / "d"), str(photo)]) == 0
    assert seen["page"] and "beach.jpg" in seen["text"] and "folders" in seen["text"]
    seen.clear()
    assert app.main(["--data-dir", str(tmp_path / "d"), str(tmp_path / "gone.jpg")]) == 0
    assert seen["page"] and f"{tmp_path / 'gone.jpg'} does not exist" in seen["text"]


def test_gui_script_entry_point_parses_its_arguments(tmp_path, monkeypatch):
    from photofind.gui import app

    calls = []
    monkeypatch.setattr(app, "run", lambda data_dir, image: calls.append((data_dir, image)) or 0)
    image = save(picture(1), tmp_path / "x.png")
    assert app.main(["--data-dir", str(tmp_path / "d"), str(image)]) == 0
    assert calls[0][0].root == tmp_path / "d" and calls[0][1] == str(image)
    with pytest.raises(SystemExit):
        app.main(["--no-such-option"])


def test_app_shows_results_without_importing_torch(tmp_path, tiny_model):
    """Once the library's model is exported, the app opens, finds similar photos and
    answers a typed query without torch: nothing slows its window down."""
    import json
    import os
    import subprocess
    import sys

    lib = tmp_path / "lib"
    for i in range(6):
        save(picture(i), lib / f"p{i}.jpg")
    data_dir = build_library(tmp_path / "data", [lib], tiny_model)
    child = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtTest import QTest\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from photofind.core.store.datadir import DataDir\n"
        "from photofind.gui import app as gui_app, window as w\n"
        "seen = {}\n"
        "def answered(results, *_):\n"
        "    if win_ref and win_ref[0].search.text == 'a photo':\n"
        "        seen['text'] = len(results['items'])\n"
        "win_ref = []\n"
        "def check():\n"
        "    win = next((x for x in QApplication.topLevelWidgets()\n"
        "                if isinstance(x, w.MainWindow) and x.isVisible()), None)\n"
        "    if win is None or win.model.rowCount() == 0:\n"
        "        return\n"
        "    if 'similar' not in seen:\n"
        "        seen['similar'] = [r.path for r in win.model.results()]\n"
        "        win_ref.append(win)\n"
        "        win.search.results.connect(answered)\n"
        "        QTest.keyClicks(win.field, 'a photo')\n"
        "        QTest.keyClick(win.field, '\\r')\n"
        "        return\n"
        "    if 'text' not in seen:\n"
        "        return\n"
        "    seen['modules'] = sorted(m for m in ('torch', 'open_clip', 'torchvision')\n"
        "                             if m in sys.modules)\n"
        "    print('SEEN ' + json.dumps(seen), flush=True)\n"
        "    os._exit(0)\n"
        "app = QApplication(sys.argv[:1])\n"
        "timer = QTimer(); timer.timeout.connect(check); timer.start(20)\n"
        "QTimer.singleShot(60000, lambda: os._exit(3))\n"
        f"gui_app.run(DataDir(Path({str(data_dir.root)!r})), {str(lib / 'p2.jpg')!r})\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         env=env, timeout=120)
    line = next((x for x in run.stdout.splitlines() if x.startswith("SEEN ")), None)
    assert line is not None, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    seen = json.loads(line[5:])
    # the photo itself is the query (its chip), not a result: the nearest others come first
    assert seen["similar"] and str(lib / "p2.jpg") not in seen["similar"]
    assert seen["text"] == 6
    assert seen["modules"] == []
