"""Starting the desktop app: `photofind gui [IMAGE]` or `photofind-gui [IMAGE]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from photofind.core.store import datadir


def run(data_dir: datadir.DataDir, image: str | None = None) -> int:
    """Open the window on `data_dir`; with `image`, start with photos similar to it."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from photofind.desktop import APP_ID
    from photofind.gui.app_icon import app_icon
    from photofind.gui.errors import ErrorReporter, setup_logging
    from photofind.gui.prefs import APPLICATION, ORGANISATION

    data_dir.ensure()
    log_path = setup_logging(data_dir)
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)  # sharp at 125 % and 150 %
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("photofind")
    app.setDesktopFileName(APP_ID)  # matches the .desktop file: the right icon on Wayland
    app.setWindowIcon(app_icon())
    reporter = ErrorReporter(log_path).install()
    # No torch here: once a model is exported, searching and indexing run without it
    # (ONNX Runtime), so the window shows at once; see docs/decisions.md.

    from photofind.gui.window import MainWindow

    window = MainWindow(data_dir)
    reporter.window = window
    window.show()
    if image:  # a missing or unreadable IMAGE is said in the window, not on stderr
        window.start_with(image)
    try:
        return app.exec()
    finally:
        window.shutdown()
        reporter.uninstall()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="photofind-gui",
                                     description="photofind's desktop app.")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where photofind keeps its index (default: $PHOTOFIND_DATA_DIR, "
                             "else the platform's data folder)")
    parser.add_argument("image", nargs="?", metavar="IMAGE",
                        help="start by finding photos similar to this image")
    args = parser.parse_args(argv)
    return run(datadir.resolve(args.data_dir), args.image)


if __name__ == "__main__":
    sys.exit(main())
