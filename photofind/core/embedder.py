"""The embedder: an open_clip model that turns images and text into L2-normalised vectors.

A model is named by a spec that open_clip understands: an architecture with a pretrained
tag (`ViT-B-32-256` + `datacomp_s34b_b86k`), `hf-hub:ORG/REPO`, or `local-dir:/folder`.
Weights come from the data directory's model cache; they are downloaded once, with
progress, when the machine has a network. Pickled checkpoints are only ever opened with
`torch.load(weights_only=True)` (open_clip's default, which we never turn off).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import platform
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from photofind.core.errors import ModelUnavailable, PhotofindError, one_line

DEFAULT_MODEL = "ViT-B-32-256"
DEFAULT_PRETRAINED = "datacomp_s34b_b86k"
DEMO_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "demo"


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


def pick_device(requested: str = "auto") -> str:
    """The device to run on. "cpu", and "auto" on a machine with no GPU driver, are
    answered without importing torch (seconds of start-up the ONNX path need not pay)."""
    if requested not in ("auto", "cpu", "cuda", "mps"):
        raise PhotofindError(f"unknown device '{requested}'; use auto, cpu, cuda or mps")
    if requested == "cpu" or (requested == "auto" and not _gpu_possible()):
        return "cpu"
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise PhotofindError("--device cuda was asked for, but torch sees no CUDA GPU; "
                             "use --device auto or cpu")
    if requested == "mps" and not (getattr(torch.backends, "mps", None)
                                   and torch.backends.mps.is_available()):
        raise PhotofindError("--device mps was asked for, but this machine has no Apple GPU; "
                             "use --device auto or cpu")
    return requested


def _gpu_possible() -> bool:
    """False only where torch could not find a GPU either: no NVIDIA or AMD driver on
    Linux or Windows, an Intel Mac. Anything else asks torch."""
    if "torch" in sys.modules:
        return True  # asking it costs nothing now
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in
                   ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        import ctypes.util

        return any(ctypes.util.find_library(n) for n in ("nvcuda", "amdhip64"))
    return True


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
        from photofind.core import onnxrt

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
        from photofind.core import onnxrt

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
                from photofind.core.textquery import TextEncoder

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


class PilPreprocess:
    """open_clip's usual image transform (Resize of the short side, bicubic; CenterCrop;
    RGB; ToTensor; Normalize) in Pillow and numpy: the same pixels as torchvision's PIL
    path (tests/test_onnx_backend.py checks), as float32 (3, S, S), with no torch."""

    RESAMPLE = {"bicubic": 3, "bilinear": 2, "nearest": 0, "lanczos": 1, "box": 4, "hamming": 5}

    def __init__(self, desc: dict) -> None:
        self.desc = desc
        self.resize = int(desc["resize"])
        self.crop = (int(desc["crop"][0]), int(desc["crop"][1]))  # height, width
        self.resample = self.RESAMPLE[desc["interpolation"]]
        std = np.asarray(desc["std"], dtype=np.float32)
        self.scale = 1.0 / (255.0 * std)
        self.offset = -np.asarray(desc["mean"], dtype=np.float32) / std

    @staticmethod
    def describe(preprocess) -> dict | None:
        """The description of open_clip transform `preprocess` this class can replay, or
        None when it is of another shape (that model keeps torch's transform)."""
        steps = list(getattr(preprocess, "transforms", []))
        names = [type(step).__name__ for step in steps]
        if len(steps) != 5 or names[0] != "Resize" or names[1] != "CenterCrop" \
                or names[2] not in ("MaybeConvertMode", "function") \
                or names[3] not in ("ToTensor", "MaybeToTensor") or names[4] != "Normalize":
            return None
        resize, crop, convert, normalize = steps[0], steps[1], steps[2], steps[4]
        size = resize.size
        if isinstance(size, list | tuple):
            if len(size) != 1:
                return None
            size = size[0]
        interpolation = getattr(resize.interpolation, "value", str(resize.interpolation))
        if resize.max_size is not None or interpolation not in PilPreprocess.RESAMPLE \
                or getattr(convert, "mode", "RGB") != "RGB":
            return None
        return {"resize": int(size), "interpolation": interpolation,
                "crop": [int(crop.size[0]), int(crop.size[1])],
                "mean": [float(v) for v in normalize.mean],
                "std": [float(v) for v in normalize.std]}

    def __call__(self, image) -> np.ndarray:
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        if short != self.resize:
            new_long = int(self.resize * long / short)
            size = (self.resize, new_long) if width <= height else (new_long, self.resize)
            image = image.resize(size, self.resample)
            width, height = size
        crop_h, crop_w = self.crop
        if width < crop_w or height < crop_h:
            raise ValueError("image smaller than the crop after resizing")  # not for this shape
        top = int(round((height - crop_h) / 2.0))
        left = int(round((width - crop_w) / 2.0))
        if (left, top, width, height) != (0, 0, crop_w, crop_h):
            image = image.crop((left, top, left + crop_w, top + crop_h))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float32) * self.scale + self.offset
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


IMAGE_META = "image.json"


def exported_image_tower(cache_dir: Path, model_id: str, precision: str
                         ) -> tuple[Path, dict] | None:
    """(tower, meta) when this model's image tower is exported with everything an embedder
    needs to run it without torch; None otherwise. An int8 tower that failed its fidelity
    check gives the fp32 one."""
    from photofind.core import onnxrt

    folder = onnxrt.folder(cache_dir, model_id)
    try:
        meta = json.loads((folder / IMAGE_META).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not meta.get("preprocess"):
        return None
    tower = onnxrt.tower_path(cache_dir, model_id, "image", precision)
    if precision == "int8":
        try:
            verdict = json.loads(tower.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        if not verdict.get("ok"):
            tower = onnxrt.tower_path(cache_dir, model_id, "image", "fp32")
    return (tower, meta) if tower.is_file() else None


INT8_MIN_COSINE = 0.99


def fast_preprocess(preprocess):
    """open_clip's transform with its last two steps (ToTensor, Normalize: ~19 ms of CPU
    per photo here, as much as decoding it) done in numpy (~1 ms), same values to float
    rounding. Transforms of another shape are returned unchanged."""
    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) < 3 or type(steps[-2]).__name__ not in ("ToTensor", "MaybeToTensor") \
            or type(steps[-1]).__name__ != "Normalize":
        return preprocess
    head = steps[:-2]
    mean = np.asarray(steps[-1].mean, dtype=np.float32)
    std = np.asarray(steps[-1].std, dtype=np.float32)
    scale, offset = 1.0 / (255.0 * std), -mean / std

    def run(image):
        import torch
        from PIL import Image

        for step in head:
            image = step(image)
        if not isinstance(image, Image.Image):
            return steps[-1](steps[-2](image))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float32) * scale + offset
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))

    run.transforms = steps
    return run


def image_tower(embedder: Embedder, cache_dir: Path, precision: str) -> Path:
    """The cached ONNX image tower of this model and precision, exported when missing —
    in a child process (`python -m photofind.core.export`, which also exports the text
    tower): torch's TorchScript exporter hangs in a process that loaded usearch first
    (their C++ runtimes clash), and every photofind process that indexes has."""
    from photofind.core import onnxrt

    path = onnxrt.tower_path(cache_dir, embedder.model_id, "image", precision)
    ready = path.is_file() and (precision == "fp32" or path.with_suffix(".json").is_file())
    if not ready:
        run_export(embedder.spec, cache_dir, precision)
    return export_image_tower_here(embedder, cache_dir, precision)


def run_export(spec: ModelSpec, cache_dir: Path, precision: str) -> None:
    import subprocess
    import sys

    if getattr(sys, "frozen", False):  # a bundled app has no `python -m`: export here
        from photofind.core.export import export_here

        export_here(spec, cache_dir, precision)
        return
    from photofind.core.export import PARENT_ENV

    # the exporter dies with this process (see export.py): it writes under our lock
    child = subprocess.Popen(
        [sys.executable, "-m", "photofind.core.export", spec.to_json(), str(cache_dir), precision],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, PARENT_ENV: str(os.getpid())})
    try:
        _out, err = child.communicate(timeout=1800)
    except BaseException:  # a timeout, an interrupt: no exporter is left behind
        child.kill()
        child.wait()
        raise
    if child.returncode:
        lines = err.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exporter exited with {child.returncode}")


def export_image_tower_here(embedder: Embedder, cache_dir: Path, precision: str) -> Path:
    """Export (when missing) and return the image tower in this process. An int8 tower is
    used only when its vectors stay within cosine 0.99 of fp32 on probe pictures (checked
    once, recorded next to it); otherwise the fp32 tower is returned."""
    from photofind.core import onnxrt

    fp32 = onnxrt.tower_path(cache_dir, embedder.model_id, "image", "fp32")
    if not fp32.is_file():
        onnxrt.export_image_tower(embedder.model, embedder.image_size, fp32)
    meta = fp32.with_name(IMAGE_META)
    if not meta.is_file():
        text = json.dumps({"image_size": embedder.image_size, "dim": embedder.dim,
                           "preprocess": PilPreprocess.describe(embedder.transform)})
        onnxrt._atomic(meta, lambda tmp: tmp.write_text(text))
    if precision == "fp32":
        return fp32
    path = onnxrt.tower_path(cache_dir, embedder.model_id, "image", precision)
    verdict = path.with_suffix(".json")
    if not path.is_file() or not verdict.is_file():
        onnxrt.quantize_int8(fp32, path)
        probes = np.stack([np.asarray(embedder.preprocess(img), dtype=np.float32)
                           for img in _probes(embedder.image_size)])
        cosine = (onnxrt.Session(fp32).run(probes) * onnxrt.Session(path).run(probes)).sum(axis=1)
        onnxrt._atomic(verdict, lambda tmp: tmp.write_text(json.dumps(
            {"min_cosine": float(cosine.min()), "ok": bool(cosine.min() >= INT8_MIN_COSINE)})))
    if not json.loads(verdict.read_text()).get("ok"):
        return fp32  # quantisation hurts this model too much: stay exact
    return path


def _probes(size: int, count: int = 8) -> list:
    """Photo-like pictures (smooth colour fields, blobs, grain) to check a quantised tower."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    pictures = []
    for _ in range(count):
        img = np.zeros((size, size, 3), np.float32)
        for c in range(3):
            a, b, phase = rng.uniform(-3, 3, 3)
            img[..., c] = 127 + 100 * np.sin(3.14 * (a * x + b * y) + phase)
        for _ in range(4):
            cx, cy, r = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.25)]
            img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 4, img.shape)
        pictures.append(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)))
    return pictures


def _load(spec: ModelSpec, device: str, cache_dir: Path | None):
    import open_clip

    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    name, pretrained = spec.name, spec.pretrained
    folder = spec.local_dir
    if folder is not None:
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailable(
                f"model folder {folder} has no open_clip_config.json; a local model folder "
                "needs open_clip_config.json and open_clip_model.safetensors"
            )
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")) \
                and not any(folder.glob("*.pth")):
            raise ModelUnavailable(
                f"model folder {folder} holds no weights; put open_clip_model.safetensors there"
            )
    else:
        cached = _cached(spec, cache_dir)
        if cached is not None:
            name, pretrained = cached
        elif not _hub_reachable():
            raise ModelUnavailable(_missing_message(spec, cache_dir))
    precision = "fp16" if device == "cuda" else "fp32"
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device, precision=precision,
            cache_dir=str(cache_dir) if cache_dir else None, weights_only=True,
            require_pretrained=True,
        )
        tokenizer = open_clip.get_tokenizer(name, cache_dir=str(cache_dir) if cache_dir else None)
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(f"{_missing_message(spec, cache_dir)} ({one_line(exc, 300)})") from None
    model.eval()
    return model, preprocess, tokenizer


def _cached(spec: ModelSpec, cache_dir: Path | None) -> tuple[str, str | None] | None:
    """Weights already in the model cache: (name, pretrained) that load them with no network."""
    try:
        import open_clip
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cache = str(cache_dir) if cache_dir else None
    if spec.name.startswith("hf-hub:"):
        repo = spec.name[len("hf-hub:"):]
        config = try_to_load_from_cache(repo, "open_clip_config.json", cache_dir=cache)
        for weights in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(repo, weights, cache_dir=cache)
            if isinstance(found, str) and isinstance(config, str):
                return f"local-dir:{Path(found).parent}", None
        return None
    if not spec.pretrained:
        return None
    cfg = open_clip.get_pretrained_cfg(spec.name, spec.pretrained)
    hub = (cfg or {}).get("hf_hub", "")
    if not hub:
        return None
    repo, filename = os.path.split(hub.rstrip("/")) if not hub.endswith("/") else (hub[:-1], "")
    candidates = [filename] if filename else [
        "open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
        "open_clip_pytorch_model.bin",
    ]
    for candidate in candidates:
        found = try_to_load_from_cache(repo, candidate, cache_dir=cache)
        if isinstance(found, str):
            return spec.name, found
    return None


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        from huggingface_hub import constants

        host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    except ImportError:
        host = "huggingface.co"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _missing_message(spec: ModelSpec, cache_dir: Path | None) -> str:
    where = f" into {cache_dir}" if cache_dir else ""
    return (
        f"model {spec} is not on this machine and could not be downloaded; connect to the "
        f"internet once so photofind can fetch it{where}, or point --model at a folder that "
        "holds open_clip_config.json and open_clip_model.safetensors "
        "(--model local-dir:/path/to/folder). To try photofind offline: photofind demo"
    )
