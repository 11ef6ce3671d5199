"""Query text → vector without torch: the model's text tower exported to ONNX.

Importing torch and open_clip takes ~7 s on a two-core laptop, far more than the whole
budget of a `photofind search`. When a library's model is loaded for indexing (torch is
there anyway), its text tower is exported once to ONNX (fp32) next to a small
`text.json` (context length, dimension, tokenizer), in the data directory's model cache.
A searcher then needs only onnxruntime, numpy and the BPE tokenizer of tokens.py.

Only models with CLIP's own tokenizer (open_clip's `SimpleTokenizer`, default cleaning)
qualify; others (SigLIP, Hugging Face tokenizers) keep the torch path.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from photofind.core import onnxrt

META = "text.json"


def qualifies(tokenizer) -> bool:
    return (type(tokenizer).__name__ == "SimpleTokenizer"
            and getattr(getattr(tokenizer, "clean_fn", None), "__name__", "") == "_clean_lower"
            and getattr(tokenizer, "reduction_fn", None) is None
            and getattr(tokenizer, "vocab_size", 0) == 49408)


def exported(cache_dir: Path, model_id: str) -> bool:
    folder = onnxrt.folder(cache_dir, model_id)
    return (folder / META).is_file() and (folder / "text-fp32.onnx").is_file()


def export(embedder, cache_dir: Path) -> bool:
    """Export `embedder`'s text tower for torch-free queries, once (in a child process,
    see export.py). True when it is there."""
    if not onnxrt.can_export() or not qualifies(embedder.tokenizer):
        return False
    if exported(cache_dir, embedder.model_id):
        return True
    from photofind.core.embedder import run_export

    try:
        run_export(embedder.spec, cache_dir, "fp32")
    except Exception as exc:  # searches then use torch; nothing is lost
        logging.getLogger(__name__).warning("could not export the text tower: %s", exc)
    return exported(cache_dir, embedder.model_id)


def export_here(embedder, cache_dir: Path) -> bool:
    """The export itself, in this process (torch imported before usearch)."""
    if not onnxrt.can_export() or not qualifies(embedder.tokenizer):
        return False
    if exported(cache_dir, embedder.model_id):
        return True
    folder = onnxrt.folder(cache_dir, embedder.model_id)
    model = embedder.model
    if embedder.device != "cpu":  # export a CPU fp32 copy, leave the GPU model alone
        import copy

        model = copy.deepcopy(model).float().cpu()
    onnxrt.export_text_tower(model, embedder.tokenizer.context_length, folder / "text-fp32.onnx")
    text = json.dumps({"context_length": embedder.tokenizer.context_length,
                       "dim": embedder.dim, "tokenizer": "clip-bpe"})
    onnxrt._atomic(folder / META, lambda tmp: tmp.write_text(text))
    return True


class TextEncoder:
    """The exported text tower of one model: `embed(text)` → L2-normalised float32."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        from photofind.core.tokens import Tokenizer

        meta = json.loads((folder / META).read_text())
        self.dim = int(meta["dim"])
        self.tokenizer = Tokenizer(int(meta["context_length"]))
        self.session = onnxrt.Session(folder / "text-fp32.onnx", threads)

    @classmethod
    def cached(cls, cache_dir: Path, model_id: str) -> TextEncoder | None:
        """The model's exported text tower, or None when there is none (or it can't run)."""
        from photofind.core.tokens import bpe_file

        folder = onnxrt.folder(cache_dir, model_id)
        if not (folder / META).is_file() or not onnxrt.available() or bpe_file() is None:
            return None
        try:
            return cls(folder)
        except Exception as exc:
            logging.getLogger(__name__).warning("exported text tower unusable: %s", exc)
            return None

    def embed(self, text: str) -> np.ndarray:
        return self.session.run(self.tokenizer([text]))[0]
