"""The app's preferences, kept with QSettings (organisation "photofind")."""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "photofind"
APPLICATION = "photofind"
DEVICES = ("auto", "cpu", "gpu")
ZOOM_MIN, ZOOM_MAX, ZOOM_DEFAULT = 96, 384, 176
RESULT_LIMIT = 600


def default_cores() -> int:
    """Leave one core for the window and the rest of the desktop."""
    return max(1, (os.cpu_count() or 2) - 1)


class Prefs:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qs = settings or QSettings(ORGANISATION, APPLICATION)

    def _get(self, key: str, default, kind=str):
        value = self.qs.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    # --- model and indexing -----------------------------------------------------------

    @property
    def model(self) -> str:
        """The model for a new library: "" (the default model), "demo", or an open_clip
        spec; `pretrained` goes with an architecture name."""
        return self._get("model/spec", "")

    @property
    def pretrained(self) -> str:
        return self._get("model/pretrained", "")

    def set_model(self, spec: str, pretrained: str = "") -> None:
        self.qs.setValue("model/spec", spec)
        self.qs.setValue("model/pretrained", pretrained)

    @property
    def device(self) -> str:
        value = self._get("index/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.qs.setValue("index/device", value)

    @property
    def cores(self) -> int:
        cores = self._get("index/cores", default_cores(), int)
        return min(max(1, cores), os.cpu_count() or 1)

    @cores.setter
    def cores(self, value: int) -> None:
        self.qs.setValue("index/cores", int(value))

    # --- the window --------------------------------------------------------------------

    @property
    def zoom(self) -> int:
        return min(max(self._get("view/zoom", ZOOM_DEFAULT, int), ZOOM_MIN), ZOOM_MAX)

    @zoom.setter
    def zoom(self, value: int) -> None:
        self.qs.setValue("view/zoom", int(value))

    @property
    def preview_width(self) -> int:
        """The detail panel's width, as the person last dragged it."""
        return max(120, self._get("view/preview_width", 340, int))

    @preview_width.setter
    def preview_width(self, value: int) -> None:
        self.qs.setValue("view/preview_width", int(value))

    @property
    def preview_mode(self) -> str:
        """"auto" (shown while a photo is selected), "open" (always) or "closed" (the
        person dragged it shut)."""
        value = self._get("view/preview", "auto")
        return value if value in ("auto", "open", "closed") else "auto"

    @preview_mode.setter
    def preview_mode(self, value: str) -> None:
        self.qs.setValue("view/preview", value)

    @property
    def result_limit(self) -> int:
        return max(20, self._get("search/limit", RESULT_LIMIT, int))

    @property
    def stack_copies(self) -> bool:
        """Copies of one photo shown as one result with a "+N" badge (≡ menu)."""
        value = self.qs.value("results/stack_copies", True)
        return value not in (False, "false", "0", 0)  # INI files give back strings

    @stack_copies.setter
    def stack_copies(self, value: bool) -> None:
        self.qs.setValue("results/stack_copies", bool(value))

    def state(self, key: str) -> QByteArray | None:
        value = self.qs.value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_state(self, key: str, value: QByteArray) -> None:
        self.qs.setValue(f"window/{key}", value)

    def sync(self) -> None:
        self.qs.sync()


def core_device(preference: str) -> str:
    """The core's device name for a preference; "gpu" picks CUDA, else Apple's MPS.
    Imports torch, so call it from a worker thread."""
    if preference != "gpu":
        return "cpu" if preference == "cpu" else "auto"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "mps"  # the core says plainly when this machine has no Apple GPU either
