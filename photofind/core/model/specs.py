"""Model specs: which open_clip model makes a library's vectors, and the id the catalog
records with each vector.

A model is named by a spec that open_clip understands: an architecture with a pretrained
tag (`ViT-B-32-256` + `datacomp_s34b_b86k`), `hf-hub:ORG/REPO`, or `local-dir:/folder`.
Plain data, no torch: the CLI, the GUI and the catalog's readers use it freely.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "ViT-B-32-256"
DEFAULT_PRETRAINED = "datacomp_s34b_b86k"
DEMO_MODEL_DIR = Path(__file__).resolve().parent.parent.parent / "models" / "demo"
MODEL_KEY = "model_spec"  # the catalog's meta key for the library's model


@dataclass(frozen=True)
class ModelSpec:
    name: str
    pretrained: str | None = None

    @classmethod
    def parse(cls, name: str, pretrained: str | None = None) -> ModelSpec:
        if name == "demo":
            return cls.demo()
        if name.startswith("local-dir:"):
            folder = Path(name[len("local-dir:"):]).expanduser().absolute()
            return cls(f"local-dir:{folder}", None)
        if name.startswith("hf-hub:"):
            return cls(name, None)
        return cls(name, pretrained)

    @classmethod
    def default(cls) -> ModelSpec:
        return cls(DEFAULT_MODEL, DEFAULT_PRETRAINED)

    @classmethod
    def demo(cls) -> ModelSpec:
        return cls(f"local-dir:{DEMO_MODEL_DIR}", None)

    @property
    def local_dir(self) -> Path | None:
        return Path(self.name[len("local-dir:"):]) if self.name.startswith("local-dir:") else None

    def __str__(self) -> str:
        if self == ModelSpec.demo():
            return "demo"
        return f"{self.name} ({self.pretrained})" if self.pretrained else self.name

    def to_json(self) -> str:
        # The demo model is stored by name, so the catalog survives a reinstall that
        # moves the package (and with it the demo model's folder).
        name = "demo" if self == ModelSpec.demo() else self.name
        return json.dumps({"name": name, "pretrained": self.pretrained})

    @classmethod
    def from_json(cls, raw: str) -> ModelSpec:
        data = json.loads(raw)
        return cls.parse(data["name"], data.get("pretrained"))

    def model_id(self) -> str:
        """What the catalog records with each vector. Two specs with the same id make the
        same vectors; a retrained local model gets a new id, so its photos are re-embedded."""
        folder = self.local_dir
        if folder is None:
            return f"{self.name}:{self.pretrained}" if self.pretrained else self.name
        return f"local-dir:{folder.name}#{_fingerprint(folder)}"


def _fingerprint(folder: Path) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for name in ("open_clip_config.json", "open_clip_model.safetensors"):
        path = folder / name
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                digest.update(f.read(1 << 20))
                if size > 2 << 20:
                    f.seek(-(1 << 20), os.SEEK_END)
                    digest.update(f.read())
            digest.update(str(size).encode())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def active_spec(catalog) -> ModelSpec | None:
    """The library's model, as its catalog (anything with `get_meta`) records it."""
    raw = catalog.get_meta(MODEL_KEY)
    return ModelSpec.from_json(raw) if raw else None
