"""The main window's side of the library: indexing and what it reports, adding and
removing folders, the demo, the Library, failures and Settings dialogs, changing the
model. A mixin of `MainWindow` (window.py), which owns the widgets it uses."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QMessageBox

from photofind.core.ingest.session import demo_model_misused
from photofind.core.model.specs import ModelSpec
from photofind.gui.index_worker import IndexStatus
from photofind.gui.library_dialog import FailuresDialog, LibraryDialog, ask_about_demo_model
from photofind.gui.settings_dialog import SettingsDialog
from photofind.gui.status_bar import progress_text

log = logging.getLogger(__name__)


class LibraryView:
    # --- indexing -------------------------------------------------------------------------------

    @property
    def indexing(self) -> bool:
        return self.index_ctl.indexing

    @property
    def live(self) -> bool:
        return self.index_ctl.live

    def start_indexing(self, add_paths: list[str] | None = None, spec: ModelSpec | None = None
                       ) -> None:
        """Keep the library current; with `add_paths`, add those folders; with `spec`,
        index everything again with that model."""
        new_library = ("", "")
        if not self.library.get("model") and self.prefs.model:
            new_library = (self.prefs.model, self.prefs.pretrained)
        self.index_ctl.start(add_paths, spec, new_library)

    def add_folders(self, folders: list[str]) -> None:
        if demo_model_misused(self.library.get("spec"), self.data_dir, folders):
            answer = ask_about_demo_model(self, folders)
            if answer == "switch":
                standard = ModelSpec.default()
                self.prefs.set_model(*_spec_prefs(standard))
                self.start_indexing(folders, spec=standard)
            elif answer == "add":
                self.start_indexing(folders)
            return
        self.start_indexing(folders)

    def remove_folder(self, root: str) -> None:
        self.index_ctl.remove_folder(root)

    def start_demo(self) -> None:
        self.welcome.set_busy(True, "Setting up the demo library…")
        self.index_ctl.demo(self.demo_count)

    def _welcome_start(self, folders: list[str]) -> None:
        self.welcome.set_busy(True, "Loading the model…")
        self.start_indexing(folders)

    @Slot(IndexStatus)
    def _index_progress(self, status: IndexStatus) -> None:
        self.status.set_progress(status)
        if self.pages.currentWidget() is self.welcome and status.stage != "done":
            self.welcome.set_busy(True, progress_text(status))

    @Slot(str, object)
    def _index_finished(self, what: str, report) -> None:
        """A setup step finished ("index", "demo", "model", "add", "remove"), or the
        LibraryWorker finished a run over changes ("burst")."""
        if self.pages.currentWidget() is self.welcome:
            self.welcome.set_busy(False)
        changes = 0
        if report is not None:
            changes = report.added + report.updated + report.removed + report.moved
            if changes or report.failed:
                self.status.set_note(
                    f"Library up to date: {report.added:,} added, {report.updated:,} updated, "
                    f"{report.moved:,} moved, {report.removed:,} removed"
                    + (f", {len(report.failed):,} could not be read" if report.failed else "")
                    + ".")
        self.search.library_changed()
        if changes or what in ("model", "remove"):
            self.search.rerun()
        if self.library_dialog is not None:
            self.library_dialog.refresh()
        self.index_finished.emit(what, report)

    @Slot(str)
    def _index_failed(self, message: str) -> None:
        self.status.set_progress(IndexStatus("done"))
        if self.pages.currentWidget() is self.welcome:
            self.welcome.show_problem(message[0].upper() + message[1:],
                                      title="That did not work")
        else:
            self.status.set_note(message)
            QMessageBox.warning(self, "photofind", message)
        self.index_finished.emit("failed", None)

    @Slot(str)
    def _model_unavailable(self, message: str) -> None:
        log.warning("model unavailable: %s", message)
        self.status.set_progress(IndexStatus("done"))
        if self.pages.currentWidget() is self.welcome or not self.library.get("roots"):
            self.pages.setCurrentWidget(self.welcome)
            self.welcome.show_model_problem(message)
        else:
            self.status.set_note("The model is not available, so new photos are not indexed; "
                                 "searching works with what is indexed.")
            self.message.show_message("The model is not available on this computer.", message)
            if not self.search.active:
                self.results_stack.setCurrentWidget(self.message)
        self.index_finished.emit("model_unavailable", None)

    @Slot(str)
    def _writer_busy(self, message: str) -> None:
        self.status.set_progress(IndexStatus("done"))
        self.status.set_note(f"{message[0].upper()}{message[1:]}. Searching still works.")
        if self.pages.currentWidget() is self.welcome:
            self.welcome.show_problem(
                f"{message[0].upper()}{message[1:]}. photofind tries again every 30 seconds.",
                title="Another photofind is updating this library")
        self.index_finished.emit("busy", None)

    def _pause_toggled(self, paused: bool) -> None:
        self.index_ctl.pause(paused)

    def _stop_indexing(self) -> None:
        """The Cancel button, shown while the model loads (or downloads)."""
        self.index_ctl.cancel()
        self.status.set_note("Cancelled. Searching works with what is already indexed; "
                             "photofind updates the library again next time it starts.")

    # --- dialogs --------------------------------------------------------------------------------

    def show_library(self) -> None:
        if self.library_dialog is None:
            dialog = LibraryDialog(self.data_dir, self)
            dialog.add_requested.connect(self.add_folders)
            dialog.remove_requested.connect(self.remove_folder)
            dialog.finished.connect(lambda _r: setattr(self, "library_dialog", None))
            self.library_dialog = dialog
        self.library_dialog.show()
        self.library_dialog.raise_()

    def show_failures(self) -> FailuresDialog:
        dialog = FailuresDialog(self.data_dir, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_settings(self) -> None:
        spec = self.library.get("spec")  # from the search thread, as a value
        if spec is None and self.prefs.model:
            spec = ModelSpec.parse(self.prefs.model, self.prefs.pretrained or None)
        dialog = SettingsDialog(spec, self.prefs.device, self.prefs.cores, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_settings(dialog.choice(), spec)

    def apply_settings(self, choice, current: ModelSpec | None) -> None:
        if choice.device != self.prefs.device or choice.cores != self.prefs.cores:
            self.prefs.device, self.prefs.cores = choice.device, choice.cores
            self.search.set_device(choice.device)
            self.index_ctl.configure(choice.device, choice.cores)
        if current is None or choice.spec == current:
            self.prefs.set_model(*_spec_prefs(choice.spec))
            if current is not None and not self.live and self.library.get("roots"):
                # back to the library's own model after another could not be had: keep
                # the library current again
                self.status.set_note("")
                self.start_indexing()
            return
        photos = self.library.get("photos", 0)
        answer = QMessageBox.question(
            self, "Change the model?",
            f"Index your {photos:,} photos again with {choice.spec}?\n\nThis can take a while; "
            "searching keeps working with the current model until it is done.")
        if answer == QMessageBox.StandardButton.Yes:
            self.prefs.set_model(*_spec_prefs(choice.spec))
            self.start_indexing(spec=choice.spec)


def _spec_prefs(spec: ModelSpec) -> tuple[str, str]:
    if spec == ModelSpec.demo():
        return "demo", ""
    if spec == ModelSpec.default():
        return "", ""
    return spec.name, spec.pretrained or ""
