"""The desktop app on the demo library, where the right answers are known: each demo
photo's file name spells what it shows (photofind.demo.parse_stem).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_support import build_library, hidden_weaker, make_prefs, open_window, show_weaker

pytest.importorskip("PySide6")

from photofind.demo import (  # noqa: E402
    jpeg_bytes,
    make_scene,
    parse_stem,
    render,
    scene_matches,
    write_library,
)

COUNT = 300  # what `photofind demo` writes


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    """What `photofind demo` sets up, once for the module."""
    base = tmp_path_factory.mktemp("gui-demo")
    folder = base / "demo-library"
    write_library(folder, COUNT)
    return build_library(base / "data", [folder], "demo"), folder


@pytest.fixture
def window(qtbot, demo_library, tmp_path):
    data_dir, _folder = demo_library
    return open_window(qtbot, data_dir, make_prefs(tmp_path / "settings", "demo"))


def scenes(window, n: int):
    return [parse_stem(Path(r.path).stem) for r in window.model.results()[:n]]


def answers(folder: Path, colour: str, shape: str) -> int:
    return sum(scene_matches(parse_stem(p.stem), colour, shape) for p in folder.glob("*.jpg"))


def test_typing_red_circle_shows_red_circles_first(qtbot, window, demo_library):
    _data, folder = demo_library
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, "red circle")
    assert len(window.model.results()) + hidden_weaker(window) == COUNT
    assert answers(folder, "red", "circle") >= 5
    show_weaker(qtbot, window)
    top = scenes(window, 5)
    assert sum(scene_matches(s, "red", "circle") for s in top) >= 4, [s.caption for s in top]
    assert scene_matches(top[0], "red", "circle"), top[0].caption


@pytest.mark.parametrize("colour,shape", [("blue", "square"), ("green", "star")])
def test_other_queries_as_typed(qtbot, window, demo_library, colour, shape):
    _data, folder = demo_library
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        qtbot.keyClicks(window.field, f"{colour} {shape}")
    show_weaker(qtbot, window)
    n = min(4, answers(folder, colour, shape))
    good = sum(scene_matches(s, colour, shape) for s in scenes(window, n))
    assert good >= n - 1, [s.caption for s in scenes(window, n)]


def test_dropping_a_photo_from_outside_finds_its_kind(qtbot, window, demo_library, tmp_path):
    from test_gui_window import drop

    _data, folder = demo_library
    i = 0
    while True:  # a fresh single-shape scene whose kind the library holds
        scene = make_scene(i, "val")
        colour, shape, _size = scene.shapes[0]
        if len(scene.shapes) == 1 and answers(folder, colour, shape) >= 3:
            break
        i += 1
    outside = tmp_path / "downloads" / "query.jpg"
    outside.parent.mkdir()
    outside.write_bytes(jpeg_bytes(render(scene)))
    with qtbot.waitSignal(window.results_shown, timeout=30_000):
        drop(window, [str(outside)])
    assert window.bar.chip.paths == [str(outside)]
    show_weaker(qtbot, window)
    top = scenes(window, 3)
    assert sum(scene_matches(s, colour, shape) for s in top) >= 2, (scene.caption,
                                                                   [s.caption for s in top])


def test_the_demo_from_the_welcome_page(qtbot, tmp_path):
    from photofind.core.store.datadir import DataDir
    from photofind.demo.variants import DEMO_COPIES

    window = open_window(qtbot, DataDir(tmp_path / "data"), make_prefs(tmp_path / "s"),
                         demo_count=40)
    assert window.pages.currentWidget() is window.welcome
    window.welcome.demo_button.click()
    shown = 40 + len(DEMO_COPIES)  # 40 scenes, and copies of some for the duplicates view
    qtbot.waitUntil(lambda: window.library.get("photos") == shown, timeout=120_000)
    assert window.pages.currentWidget() is window.main_page
    assert window.library["model"] == "demo"
    written = [p for p in (tmp_path / "data" / "demo-library").rglob("*") if p.is_file()]
    assert len(written) == shown
