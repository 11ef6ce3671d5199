"""Loading an open_clip model: the device to run on (torch asked only where a GPU driver
exists), weights from the data directory's model cache (downloaded once, with progress,
when the machine has a network), and the one-line message when they cannot be had.
Pickled checkpoints are only ever opened with `torch.load(weights_only=True)` (open_clip's
default, which we never turn off).
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from photofind.core.errors import ModelUnavailable, PhotofindError, one_line
from photofind.core.model.specs import ModelSpec


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
