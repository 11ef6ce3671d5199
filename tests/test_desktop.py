"""`photofind install-desktop`: the desktop entry, metainfo and icons for the current user,
under $XDG_DATA_HOME, with an Exec line naming this installation's photofind-gui."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from photofind import cli, desktop
from photofind.desktop import APP_ID, ICON_SIZES

pytestmark = pytest.mark.skipif(not desktop.supported(), reason="freedesktop desktops only")


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def test_install_desktop_puts_entry_icons_and_metainfo_under_xdg_data_home(home, capsys):
    assert cli.main(["install-desktop"]) == 0
    out = capsys.readouterr().out
    assert "Installed photofind in your application menu (11 files)" in out

    entry_path = home / "applications" / f"{APP_ID}.desktop"
    assert str(entry_path) in out
    assert (home / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in ICON_SIZES:
        assert (home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()

    entry = read_entry(entry_path)
    command = desktop.gui_command()
    program = Path(command[0])
    assert program.is_absolute() and os.access(program, os.X_OK)
    assert shlex.split(entry["Exec"]) == [*command, "%f"]
    assert entry["TryExec"] == str(program)
    assert entry["Icon"] == APP_ID
    assert entry_path.stat().st_mode & 0o777 == 0o644
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(entry_path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    if shutil.which("update-desktop-database"):  # "Open with" for photos
        cache = (home / "applications" / "mimeinfo.cache").read_text()
        assert f"image/jpeg={APP_ID}.desktop;" in cache


def test_install_desktop_twice_then_remove_leaves_nothing_of_ours(home, capsys):
    (home / "applications").mkdir(parents=True)
    other = home / "applications" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=x\n")
    assert cli.main(["install-desktop"]) == 0
    assert cli.main(["install-desktop"]) == 0  # again: overwrites, no error
    capsys.readouterr()

    assert cli.main(["install-desktop", "--remove"]) == 0
    assert "Removed 11 file(s):" in capsys.readouterr().out
    left = [p for p in home.rglob("*") if p.is_file() and APP_ID in p.name]
    assert left == []
    assert other.exists()
    assert not [p for p in home.rglob(".*") if p.is_file()]  # no temp files left behind

    assert cli.main(["install-desktop", "--remove"]) == 0
    assert "Removed 0 file(s); nothing was installed." in capsys.readouterr().out


def test_data_home_follows_the_xdg_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert desktop.data_home({"XDG_DATA_HOME": "/srv/data"}) == Path("/srv/data")
    default = tmp_path / ".local" / "share"
    assert desktop.data_home({}) == default
    assert desktop.data_home({"XDG_DATA_HOME": ""}) == default
    assert desktop.data_home({"XDG_DATA_HOME": "relative/dir"}) == default  # the spec: ignore


def test_exec_arguments_are_quoted_as_the_desktop_entry_spec_says():
    assert desktop.exec_argument("/usr/bin/photofind-gui") == "/usr/bin/photofind-gui"
    assert desktop.exec_argument("/home/a b/bin/x") == '"/home/a b/bin/x"'
    assert desktop.exec_argument("/opt/100%/x") == "/opt/100%%/x"
    # quoting escapes " ` $ \ with a backslash; the file's string escaping doubles backslashes
    assert desktop.exec_argument('/a"b') == '"/a\\\\"b"'
    assert desktop.exec_argument("/a$b") == '"/a\\\\$b"'
    assert desktop.exec_argument("/a\\b") == '"/a\\\\\\\\b"'
    with pytest.raises(ValueError):
        desktop.exec_argument("/a\nb")


def test_an_exec_line_with_spaces_survives_validation(home, monkeypatch):
    monkeypatch.setattr(desktop, "gui_command", lambda: ["/opt/my apps/bin/photofind-gui"])
    desktop.install()
    entry_path = home / "applications" / f"{APP_ID}.desktop"
    entry = read_entry(entry_path)
    assert entry["Exec"] == '"/opt/my apps/bin/photofind-gui" %f'
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(entry_path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_without_the_gui_script_it_falls_back_to_this_python(home, monkeypatch, tmp_path):
    monkeypatch.setattr(desktop.sysconfig, "get_path", lambda *_a, **_k: str(tmp_path))
    monkeypatch.setattr(desktop.sys, "executable", str(tmp_path / "python3"))
    assert desktop.gui_command() == [str(tmp_path / "python3"), "-m", "photofind", "gui"]


def test_missing_cache_tools_are_not_an_error(home, monkeypatch):
    monkeypatch.setattr(desktop.shutil, "which", lambda _name: None)
    notes = []
    assert len(desktop.install(note=notes.append)) == 11
    assert notes == []


def test_an_icon_cache_is_refreshed_where_one_exists_and_never_created(home):
    hicolor = home / "icons" / "hicolor"
    desktop.install()
    assert not (hicolor / "icon-theme.cache").exists()  # it would hide others' icons later
    if not shutil.which("gtk-update-icon-cache"):
        pytest.skip("gtk-update-icon-cache is not installed")
    desktop.remove()
    other = hicolor / "48x48" / "apps" / "other-app.png"
    other.write_bytes(desktop.icon_png(48).read_bytes())
    subprocess.run(["gtk-update-icon-cache", "-q", "-t", "-f", str(hicolor)], check=True)
    assert b"other-app" in (hicolor / "icon-theme.cache").read_bytes()
    assert APP_ID.encode() not in (hicolor / "icon-theme.cache").read_bytes()
    desktop.install()
    assert APP_ID.encode() in (hicolor / "icon-theme.cache").read_bytes()
    desktop.remove()
    assert APP_ID.encode() not in (hicolor / "icon-theme.cache").read_bytes()
