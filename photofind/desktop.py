"""Desktop integration for Linux and other freedesktop.org desktops: `photofind install-desktop`.

Installs, for the current user, what a desktop needs to list photofind in its application
menu with its icon, offer it under "Open with" for photos, and describe it in a software
centre — following the XDG Base Directory, Desktop Entry, Icon Theme and AppStream
specifications:

    $XDG_DATA_HOME/applications/io.github.photofind.Photofind.desktop
    $XDG_DATA_HOME/icons/hicolor/<N>x<N>/apps/io.github.photofind.Photofind.png
    $XDG_DATA_HOME/icons/hicolor/scalable/apps/io.github.photofind.Photofind.svg
    $XDG_DATA_HOME/metainfo/io.github.photofind.Photofind.metainfo.xml

($XDG_DATA_HOME defaults to ~/.local/share.) The files come from the package
``photofind.resources`` (the source tree's ``resources/``); the desktop entry's Exec line
is rewritten to the absolute path of the photofind-gui that belongs to the running
installation, so the menu entry works whether or not that folder is on the desktop
session's PATH (pipx, a venv, the PyInstaller bundle). No Qt here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

APP_ID = "io.github.photofind.Photofind"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
GUI_SCRIPT = "photofind-gui"


def resources() -> Traversable:
    """The root of photofind's shipped assets."""
    return files("photofind.resources")


def icon_png(size: int) -> Traversable:
    return resources() / "app-icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def data_home(environ: Mapping[str, str] = os.environ) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset, empty or relative (as the XDG
    Base Directory specification says to treat a relative value)."""
    value = environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def gui_command() -> list[str]:
    """The command that starts this installation's desktop app, by absolute path."""
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: the launcher beside this one
        launcher = Path(sys.executable).with_name(GUI_SCRIPT)
        return [str(launcher)] if launcher.is_file() else [sys.executable, "gui"]
    folders = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():  # pip install --user
        folders.append(sysconfig.get_path("scripts", user_scheme))
    for folder in folders:
        script = Path(folder) / GUI_SCRIPT
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    return [sys.executable, "-m", "photofind", "gui"]


_RESERVED = frozenset(" \t\"'\\><~|&;$*?#()`")


def exec_argument(argument: str) -> str:
    """One argument of an Exec key, quoted and escaped as the Desktop Entry spec says:
    a quoted argument escapes " ` $ \\ with a backslash, and then the string escaping of
    the file doubles every backslash; a literal % is written %%."""
    if any(c in argument for c in "\n\r\0"):
        raise ValueError(f"cannot put {argument!r} in a desktop entry")
    argument = argument.replace("%", "%%")
    if not any(c in _RESERVED for c in argument):
        return argument
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return '"' + quoted.replace("\\", "\\\\") + '"'


def desktop_entry(command: list[str]) -> str:
    """The shipped desktop entry with Exec (and TryExec) pointing at `command`."""
    lines = []
    for line in (resources() / f"{APP_ID}.desktop").read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(exec_argument(a) for a in command) + " %f"
        elif line.startswith("TryExec="):
            line = "TryExec=" + exec_argument(command[0])
        lines.append(line)
    return "\n".join(lines) + "\n"


def installed_files(home: Path) -> Iterator[tuple[Path, Traversable]]:
    """(where it goes, what it is) for every file install() writes under `home`."""
    yield home / "applications" / f"{APP_ID}.desktop", resources() / f"{APP_ID}.desktop"
    yield home / "metainfo" / f"{APP_ID}.metainfo.xml", resources() / f"{APP_ID}.metainfo.xml"
    hicolor = home / "icons" / "hicolor"
    for size in ICON_SIZES:
        yield hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png", icon_png(size)
    yield (hicolor / "scalable" / "apps" / f"{APP_ID}.svg",
           resources() / "app-icons" / f"{APP_ID}.svg")


def install(home: Path | None = None, note: Callable[[str], None] = lambda _m: None) -> list[Path]:
    """Write the desktop entry, metainfo and icons for the current user; returns the files."""
    home = home or data_home()
    entry = desktop_entry(gui_command()).encode("utf-8")
    written = []
    for target, source in installed_files(home):
        _write(target, entry if target.suffix == ".desktop" else source.read_bytes())
        written.append(target)
    _refresh(home, note)
    return written


def remove(home: Path | None = None, note: Callable[[str], None] = lambda _m: None) -> list[Path]:
    """Delete what install() wrote (and only that); returns the files that were there."""
    home = home or data_home()
    removed = []
    for target, _source in installed_files(home):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        removed.append(target)
    _refresh(home, note)
    return removed


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _refresh(home: Path, note: Callable[[str], None]) -> None:
    """Tell the desktop: the MIME cache behind "Open with", and the icon theme (its folder's
    mtime, which icon loaders compare with their caches). Like xdg-icon-resource, an icon
    cache is only rebuilt where one is wanted (index.theme) or already exists: a new cache
    in the user's hicolor folder would hide icons that other programs add there later
    without rebuilding it."""
    hicolor = home / "icons" / "hicolor"
    if hicolor.is_dir():
        os.utime(hicolor)
    commands = [["update-desktop-database", "-q", str(home / "applications")]]
    if (hicolor / "index.theme").exists() or (hicolor / "icon-theme.cache").exists():
        commands.append(["gtk-update-icon-cache", "-q", "-t", "-f", str(hicolor)])
    for command in commands:
        if not shutil.which(command[0]) or not Path(command[-1]).is_dir():
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            note(f"{command[0]} did not run ({exc}); the desktop will notice the change later")
            continue
        if done.returncode != 0:
            note(f"{command[0]} failed ({done.stderr.strip() or done.returncode}); "
                 "the desktop will notice the change later")


def supported() -> bool:
    """Desktop entries are a freedesktop.org thing: Linux and the BSDs, not Windows or macOS."""
    return sys.platform not in ("win32", "cygwin", "darwin")
