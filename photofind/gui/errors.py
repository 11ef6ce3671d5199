"""Logging to the data directory, and a dialog instead of a crash for unexpected errors.

`sys.excepthook` and `threading.excepthook` log the traceback and hand it to the GUI
thread through a queued signal; the person sees what happened and where the log is, and
the app keeps running.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photofind.core.store.datadir import DataDir, make_private_dir

log = logging.getLogger("photofind.gui")
LOG_NAME = "photofind-gui.log"


def setup_logging(data_dir: DataDir) -> Path:
    """Log to DATA/logs/photofind-gui.log (rotated, 1 MB × 3) and return its path."""
    make_private_dir(data_dir.logs)
    path = data_dir.logs / LOG_NAME
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class ErrorReporter(QObject):
    """Installs the exception hooks; shows at most one error dialog at a time."""

    error = Signal(str, str)  # summary, traceback

    def __init__(self, log_path: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.window: QWidget | None = None
        self._showing = False
        self._previous = (sys.excepthook, threading.excepthook)
        self.error.connect(self._show)

    def install(self) -> ErrorReporter:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        return self

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _excepthook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        self.report(exc_type, exc, tb)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.report(args.exc_type, args.exc_value, args.exc_traceback,
                    args.thread.name if args.thread else None)

    def report(self, exc_type, exc, tb, thread: str | None = None) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        where = f" in thread {thread}" if thread else ""
        log.error("unexpected error%s:\n%s", where, details)
        summary = f"{exc_type.__name__}: {exc}".strip().splitlines()[0][:300]
        self.error.emit(summary, details)  # queued when raised outside the GUI thread

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if self._showing:  # one dialog at a time; the rest are in the log
            return
        self._showing = True
        try:
            box = QMessageBox(self.window)
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("photofind: something went wrong")
            box.setText("photofind ran into an unexpected problem. It keeps running, and your "
                        "photos are untouched, but the last action may not have finished.")
            where = f"The details were written to {self.log_path}." if self.log_path else ""
            box.setInformativeText(f"{summary}\n\n{where}".strip())
            box.setDetailedText(details)
            box.exec()
        finally:
            self._showing = False
