"""ONNX Runtime CPU backend: the open_clip towers, exported from the very model torch
loaded, cached in the data directory's model cache.

On a laptop CPU, ONNX Runtime runs the ViT image tower about 1.5× faster than torch in
fp32, and about 3× faster with dynamic int8 quantisation of its matrix multiplications
(see docs/benchmarks.md). The export happens once per model (a few seconds, needs torch);
the files are written to a temporary name and renamed, so concurrent processes never see a
half-written model. Torch stays the reference (and the GPU path).

The text tower is exported too, so a search can embed its query without importing torch
or open_clip (see `textencoder.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

PRECISIONS = ("fp32", "int8")
OPSET = 17


def available() -> bool:
    """onnxruntime can run models here (export also needs the `onnx` package)."""
    return importlib.util.find_spec("onnxruntime") is not None


def can_export() -> bool:
    return available() and importlib.util.find_spec("onnx") is not None


def folder(cache_dir: Path, model_id: str) -> Path:
    """Where the exported towers of `model_id` live."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:80]
    digest = hashlib.blake2b(model_id.encode(), digest_size=6).hexdigest()
    return Path(cache_dir) / "onnx" / f"{safe}-{digest}"


def tower_path(cache_dir: Path, model_id: str, tower: str, precision: str) -> Path:
    return folder(cache_dir, model_id) / f"{tower}-{precision}.onnx"


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def _exporting():
    """Plain ops for the TorchScript exporter: no inference mode, no gradients, and no
    fused multi-head-attention fast path (it has no ONNX form)."""
    import torch

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def export_image_tower(model, image_size: int, path: Path) -> Path:
    """The open_clip model's `encode_image` as ONNX: pixels (N, 3, S, S) → features (N, D)."""
    import torch

    class Image(torch.nn.Module):
        def __init__(self, clip) -> None:
            super().__init__()
            self.visual = clip.visual

        def forward(self, pixels):
            return self.visual(pixels)

    example = torch.zeros(2, 3, image_size, image_size)

    def write(tmp: Path) -> None:
        with _exporting():
            torch.onnx.export(Image(model).eval(), (example,), str(tmp), input_names=["pixels"],
                              output_names=["features"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}})

    _atomic(path, write)
    return path


def export_text_tower(model, context_length: int, path: Path) -> Path:
    """`encode_text` as ONNX: token ids (N, context_length) int64 → features (N, D)."""
    import torch

    class Text(torch.nn.Module):
        def __init__(self, clip) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, tokens):
            return self.clip.encode_text(tokens)

    example = torch.zeros(1, context_length, dtype=torch.long)
    example[0, 0], example[0, 1], example[0, 2] = 49406, 320, 49407

    def write(tmp: Path) -> None:
        with _exporting():
            torch.onnx.export(Text(model).eval(), (example,), str(tmp), input_names=["tokens"],
                              output_names=["features"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"tokens": {0: "batch"}, "features": {0: "batch"}})

    _atomic(path, write)
    return path


def _from_onnxruntime_quantization(record: logging.LogRecord) -> bool:
    parts = Path(record.pathname).parts
    return "onnxruntime" in parts and "quantization" in parts


@contextlib.contextmanager
def _quiet_quantization():
    """onnxruntime.quantization logs advice for model authors ("Please consider to run
    pre-processing before quantization") with `logging.warning`, which also gives the root
    logger a stderr handler when it has none. A person running photofind should see
    neither: its records are dropped, and no handler is left behind. Other records pass."""
    root = logging.getLogger()
    placeholder = None if root.handlers else logging.NullHandler()  # no basicConfig()
    if placeholder:
        root.addHandler(placeholder)

    def keep(record: logging.LogRecord) -> bool:
        return not _from_onnxruntime_quantization(record)

    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
        if placeholder:
            root.removeHandler(placeholder)


def quantize_int8(source: Path, path: Path) -> Path:
    """Dynamic int8 quantisation of the weights of MatMul/Gemm (activations quantised per
    batch at run time); convolutions and norms stay fp32. Quietly (`_quiet_quantization`):
    the bundled app exports in its own process, in front of the person using it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp: Path) -> None:
        with _quiet_quantization():
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gemm"])

    _atomic(path, write)
    return path


class Session:
    """One ONNX model on the CPU: `run(array)` → float32 features, L2-normalised."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Decode threads share the cores: idle inference threads must sleep, not spin
        # (spinning threads starved the decoders; see docs/decisions.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        # Graph optimisation takes most of a session's start (~1 s for the text tower on a
        # laptop, which a cold `photofind search` pays): do it once and keep the result
        # next to the model (extended level: not tied to the CPU's instruction set).
        optimized = path.with_name(path.stem + ".opt.onnx")
        source = path
        if optimized.is_file() and optimized.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            source = optimized
        else:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            tmp = optimized.with_name(f"{optimized.name}.{os.getpid()}.part")
            options.optimized_model_filepath = str(tmp)
        providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(source), options, providers=providers)
        if source is path:
            try:
                os.replace(tmp, optimized)
            except OSError:  # a read-only cache: optimise again next time
                tmp.unlink(missing_ok=True)
        self.input = self.session.get_inputs()[0].name

    def run(self, array: np.ndarray) -> np.ndarray:
        (features,) = self.session.run(None, {self.input: array})
        features = np.asarray(features, dtype=np.float32)
        norms = np.linalg.norm(features, axis=-1, keepdims=True)
        return features / np.maximum(norms, 1e-12)
