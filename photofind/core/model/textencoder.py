"""Query text → vector without torch: the model's text tower exported to ONNX.

Importing torch and open_clip takes ~7 s on a two-core laptop, far more than the whole
budget of a `photofind search`. When a library's model is loaded for indexing (torch is
there anyway), its text tower is exported once to ONNX (fp32) next to a small
`text.json` (context length, dimension, tokenizer), in the data directory's model cache.
A searcher then needs only onnxruntime, numpy and the BPE tokenizer of tokenizer.py.

Only models with CLIP's own tokenizer (open_clip's `SimpleTokenizer`, default cleaning)
qualify; others (SigLIP, Hugging Face tokenizers) keep the torch path.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from photofind.core.model import onnxrt
from photofind.core.model.exportrun import run_export

META = "text.json"
PROBES = ["a dog on the beach at sunset", "kids on a red sled", "birthday cake with candles",
          "a receipt from the supermarket", "mountains reflected in a lake", "my cat",
          "two people dancing at a wedding", "a screenshot of a chat", "snow", "a red car"]


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
    if exported(cache_dir, embedder.model_id):
        return True
    if getattr(embedder, "torch_free", False):
        return False  # its export (which tried the text tower too) is done
    if not onnxrt.can_export() or not qualifies(embedder.tokenizer):
        return False
    try:
        run_export(embedder.spec, cache_dir, "fp32",
                   here=lambda: embedder.export_in_process(embedder.spec, cache_dir, "fp32"))
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
    fp32 = onnxrt.export_text_tower(model, embedder.tokenizer.context_length,
                                    folder / "text-fp32.onnx")
    # int8: a quarter of the size (a cold search loads it ~4× faster) and faster to run;
    # used only when it stays within cosine 0.99 of fp32 on probe phrases.
    int8 = onnxrt.quantize_int8(fp32, folder / "text-int8.onnx")
    tokens = embedder.tokenizer(PROBES).numpy()
    cosine = (onnxrt.Session(fp32).run(tokens) * onnxrt.Session(int8).run(tokens)).sum(axis=1)
    text = json.dumps({"context_length": embedder.tokenizer.context_length,
                       "dim": embedder.dim, "tokenizer": "clip-bpe",
                       "int8_min_cosine": float(cosine.min()),
                       "precision": "int8" if cosine.min() >= 0.99 else "fp32"})
    onnxrt._atomic(folder / META, lambda tmp: tmp.write_text(text))
    return True


class TextEncoder:
    """The exported text tower of one model: `embed(text)` → L2-normalised float32."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        from photofind.core.model.tokenizer import Tokenizer

        meta = json.loads((folder / META).read_text())
        self.dim = int(meta["dim"])
        self.tokenizer = Tokenizer(int(meta["context_length"]))
        self.precision = meta.get("precision", "fp32")
        self.session = onnxrt.Session(folder / f"text-{self.precision}.onnx", threads)

    @classmethod
    def cached(cls, cache_dir: Path, model_id: str, threads: int | None = None
               ) -> TextEncoder | None:
        """The model's exported text tower, or None when there is none (or it can't run)."""
        from photofind.core.model.tokenizer import bpe_file

        folder = onnxrt.folder(cache_dir, model_id)
        if not (folder / META).is_file() or not onnxrt.available() or bpe_file() is None:
            return None
        try:
            return cls(folder, threads)
        except Exception as exc:
            logging.getLogger(__name__).warning("exported text tower unusable: %s", exc)
            return None

    def embed(self, text: str) -> np.ndarray:
        return self.session.run(self.tokenizer([text]))[0]
