"""Settings: the model, the device it runs on, and how many CPU cores indexing may use."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photofind.core.model.specs import ModelSpec
from photofind.gui.prefs import DEVICES

DEFAULT, DEMO, OTHER = range(3)


@dataclass
class Choice:
    spec: ModelSpec
    device: str
    cores: int


class SettingsDialog(QDialog):
    def __init__(self, spec: ModelSpec | None, device: str, cores: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("photofind settings")
        self.setMinimumWidth(560)
        default = ModelSpec.default()
        self.model = QComboBox()
        self.model.addItem(f"Standard: {default.name} ({default.pretrained}), fetched once")
        self.model.addItem("Demo model: offline, knows only the demo scenes")
        self.model.addItem("Another open_clip model…")
        self.name = QLineEdit()
        self.name.setPlaceholderText("ViT-B-16, hf-hub:ORG/REPO or local-dir:/path/to/folder")
        self.pretrained = QLineEdit()
        self.pretrained.setPlaceholderText("pretrained tag, for an architecture name")
        spec = spec or default
        if spec == default:
            self.model.setCurrentIndex(DEFAULT)
        elif spec == ModelSpec.demo():
            self.model.setCurrentIndex(DEMO)
        else:
            self.model.setCurrentIndex(OTHER)
            self.name.setText(spec.name)
            self.pretrained.setText(spec.pretrained or "")
        self.model.currentIndexChanged.connect(self._model_changed)
        self.device = QComboBox()
        for value, label in zip(DEVICES, ("Automatic (GPU if there is one)", "CPU", "GPU"),
                                strict=True):
            self.device.addItem(label, value)
        self.device.setCurrentIndex(DEVICES.index(device) if device in DEVICES else 0)
        self.cores = QSpinBox()
        self.cores.setRange(1, os.cpu_count() or 1)
        self.cores.setValue(cores)
        self.cores.setSuffix(f" of {os.cpu_count() or 1}")
        note = QLabel("Changing the model indexes every photo again; photofind asks first.")
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("", self.name)
        form.addRow("", self.pretrained)
        form.addRow("", note)
        form.addRow("Run on", self.device)
        form.addRow("CPU cores for indexing", self.cores)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._model_changed()

    def _model_changed(self) -> None:
        other = self.model.currentIndex() == OTHER
        self.name.setVisible(other)
        self.pretrained.setVisible(other)

    def choice(self) -> Choice:
        index = self.model.currentIndex()
        if index == DEMO:
            spec = ModelSpec.demo()
        elif index == OTHER and self.name.text().strip():
            spec = ModelSpec.parse(self.name.text().strip(), self.pretrained.text().strip() or None)
        else:
            spec = ModelSpec.default()
        return Choice(spec, self.device.currentData(), self.cores.value())
