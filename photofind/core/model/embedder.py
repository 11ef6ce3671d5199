"""The embedder: an open_clip model that turns images and text into L2-normalised vectors.

Specs and model ids are in specs.py, loading weights and choosing the device in
loading.py, pixel preparation in preprocess.py, the ONNX towers in towers.py and
onnxrt.py; the export's child process is export.py, started through exportrun.py.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import numpy as np

from photofind.core.errors import PhotofindError, one_line
from photofind.core.model import textencoder
from photofind.core.model.exportrun import run_export
from photofind.core.model.loading import _load, pick_device
from photofind.core.model.preprocess import PilPreprocess, fast_preprocess
from photofind.core.model.specs import ModelSpec
from photofind.core.model.towers import export_image_tower_here, exported_image_tower

BACKENDS = ("auto", "torch", "onnx")


class Embedder:
    """A loaded model. `embed_images` and `embed_text` may be called from any one thread
    at a time; `preprocess` (PIL image → array) is safe to call from decode workers.

    `backend` runs the image tower with torch (the reference, and the GPU path) or with
    ONNX Runtime on the CPU (exported from this very model at first use, cached in
    `cache_dir`; see onnxrt.py); "auto" picks ONNX Runtime on the CPU when it is installed.
    `precision` is that backend's: "int8" (dynamic quantisation, the CPU default) or
    "fp32". Vectors of both stay within cosine 0.99 of torch fp32, so they share the
    model id (docs/decisions.md).

    Once a model's towers are exported (with `image.json`: input size, dimension and
    preprocessing), an ONNX embedder starts without torch or open_clip: it preprocesses
    with Pillow and numpy, embeds text with the exported text tower, and imports torch
    only if something needs the torch model itself (`torch_free` says which).
    `export=False` never starts an export (a searcher uses torch instead)."""

    def __init__(self, spec: ModelSpec, device: str = "auto", cache_dir: Path | None = None,
                 threads: int | None = None, backend: str = "auto",
                 precision: str = "int8", export: bool = True) -> None:
        from photofind.core.model import onnxrt

        if backend not in BACKENDS:
            raise PhotofindError(f"unknown backend '{backend}'; use auto, torch or onnx")
        if precision not in onnxrt.PRECISIONS:
            raise PhotofindError(f"unknown precision '{precision}'; use fp32 or int8")
        self.spec = spec
        self.model_id = spec.model_id()
        self.device = pick_device(device)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.threads = threads
        self._lock = threading.Lock()
        self._parts = None  # (model, tokenizer) of torch, loaded when first needed
        self._text = None
        self._image_session = None
        self.backend, self.precision = "torch", "fp32"
        if backend == "onnx" and self.device != "cpu":
            raise PhotofindError("the onnx backend runs on the CPU; use --device cpu")
        wants_onnx = self.device == "cpu" and self.cache_dir is not None and (
            backend == "onnx" or (backend == "auto" and onnxrt.available()))
        if wants_onnx:
            ready = exported_image_tower(self.cache_dir, self.model_id, precision)
            if ready is not None:
                tower, meta = ready
                self._start_onnx(tower, meta)
                return
        self._load_torch()
        if not wants_onnx or not export:
            return
        if backend == "onnx" and not onnxrt.can_export():
            raise PhotofindError("the onnx backend needs onnxruntime and onnx installed")
        if not onnxrt.can_export():
            return
        try:
            tower = image_tower(self, self.cache_dir, precision)
            ready = exported_image_tower(self.cache_dir, self.model_id, precision)
            self._start_onnx(tower, ready[1] if ready else None)
        except Exception as exc:  # an export problem must not stop indexing
            if backend == "onnx":
                raise PhotofindError(f"could not export {spec} to ONNX ({one_line(exc, 300)})") from None
            logging.getLogger(__name__).warning("ONNX export failed, using torch: %s", exc)

    @staticmethod
    def export_in_process(spec: ModelSpec, cache_dir: Path, precision: str) -> None:
        """The export in this process (a bundled app cannot start `python -m`)."""
        export_here(spec, cache_dir, precision)

    @property
    def torch_free(self) -> bool:
        """Torch was never needed by this embedder (so far)."""
        return self._parts is None

    @property
    def model(self):
        """open_clip's torch model (imports torch on first use)."""
        return self._torch()[0]

    @property
    def tokenizer(self):
        return self._torch()[1]

    def _torch(self):
        with self._lock:
            if self._parts is None:
                self._load_torch()
            return self._parts

    def _load_torch(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        model, preprocess, tokenizer = _load(self.spec, self.device, self.cache_dir)
        # torch, open_clip and the model add a few hundred thousand objects that live as
        # long as the process; left to the cyclic garbage collector, each full collection
        # walked them all, stalling the app's GUI thread for up to 250 ms (measured by
        # bench/gui_responsiveness.py). Frozen, collections skip them.
        gc.freeze()
        self._parts = (model, tokenizer)
        self.transform = preprocess  # open_clip's own
        if self._image_session is None:
            self.preprocess = fast_preprocess(preprocess)
            size = model.visual.image_size
            self.image_size = int(max(size) if isinstance(size, tuple | list) else size)
            with torch.inference_mode():
                probe = model.encode_text(tokenizer(["a photo"]).to(self.device))
            self.dim = int(probe.shape[-1])

    def _start_onnx(self, tower: Path, meta: dict | None) -> None:
        from photofind.core.model import onnxrt

        self._image_session = onnxrt.Session(tower, self.threads)
        self.backend, self.precision = "onnx", tower.stem.split("-")[-1]
        if meta is not None:  # pixels prepared with Pillow + numpy, exactly as open_clip does
            self.preprocess = PilPreprocess(meta["preprocess"])
            self.image_size = int(meta["image_size"])
            self.dim = int(meta["dim"])

    def embed_images(self, tensors: list) -> np.ndarray:
        if self._image_session is not None:
            batch = np.stack([np.asarray(t, dtype=np.float32) for t in tensors])
            with self._lock:
                return self._image_session.run(batch)
        import torch

        model = self.model
        with self._lock, torch.inference_mode():
            batch = torch.stack([torch.as_tensor(t) for t in tensors])
            batch = batch.to(self.device)
            if self.device == "cuda":
                batch = batch.half()
            features = model.encode_image(batch)
            features = torch.nn.functional.normalize(features.float(), dim=-1)
            return features.cpu().numpy().astype(np.float32)

    def embed_text(self, text: str) -> np.ndarray:
        if self._parts is None and self.cache_dir is not None:
            if self._text is None:
                from photofind.core.model.textencoder import TextEncoder

                self._text = TextEncoder.cached(self.cache_dir, self.model_id, self.threads) \
                    or False
            if self._text:
                with self._lock:
                    return self._text.embed(text)
        import torch

        model, tokenizer = self._torch()
        with self._lock, torch.inference_mode():
            tokens = tokenizer([text]).to(self.device)
            features = model.encode_text(tokens)
            features = torch.nn.functional.normalize(features.float(), dim=-1)
            return features[0].cpu().numpy().astype(np.float32)


def image_tower(embedder: Embedder, cache_dir: Path, precision: str) -> Path:
    """The cached ONNX image tower of this model and precision, exported when missing —
    in a child process (`python -m photofind.core.model.export`, which also exports the
    text tower): torch's TorchScript exporter hangs in a process that loaded usearch first
    (their C++ runtimes clash), and every photofind process that indexes has."""
    from photofind.core.model import onnxrt

    path = onnxrt.tower_path(cache_dir, embedder.model_id, "image", precision)
    ready = path.is_file() and (precision == "fp32" or path.with_suffix(".json").is_file())
    if not ready:
        run_export(embedder.spec, cache_dir, precision,
                   here=lambda: export_here(embedder.spec, cache_dir, precision))
    return export_image_tower_here(embedder, cache_dir, precision)


def export_here(spec: ModelSpec, cache_dir: Path, precision: str) -> None:
    """Both towers exported in this process, from a CPU torch copy of the model."""
    embedder = Embedder(spec, "cpu", cache_dir, backend="torch")
    export_image_tower_here(embedder, cache_dir, precision)
    textencoder.export_here(embedder, cache_dir)
