"""Random-weight open_clip models of real architectures, as `local-dir:` folders.

No model hub is reachable here; speed does not depend on weight values, so the
benchmarks run real architectures (ViT-B-32-256, the default, and smaller ones) with
random weights, written once into a cache folder.
"""

from __future__ import annotations

import json
from pathlib import Path

CACHE = Path("/tmp/pfbench/models")


def random_model(arch: str, cache: Path = CACHE, seed: int = 0) -> str:
    """`local-dir:` spec of `arch` with random weights (written on first use)."""
    folder = cache / arch
    if not (folder / "open_clip_model.safetensors").is_file():
        import open_clip
        import torch
        from safetensors.torch import save_file

        torch.manual_seed(seed)
        model = open_clip.create_model(arch, pretrained=None)
        cfg = open_clip.get_model_config(arch)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "open_clip_config.json").write_text(
            json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
        tmp = folder / "open_clip_model.safetensors.part"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
        tmp.replace(folder / "open_clip_model.safetensors")
    return f"local-dir:{folder}"
