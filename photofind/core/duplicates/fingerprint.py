"""The pixel fingerprint of a photo, and the test that says two photos are one picture.

The fingerprint is the photo shrunk to 12×12 cells in YCbCr (box filter, so every pixel
counts), 432 bytes after a version byte, made from the upright RGB image the indexer
already decodes for the model: no second decode. Colour matters: in grey a red circle on
blue is nearly invisible (both ~85 of 255).

Two photos are the same picture when, after the best of a few centred zooms (a crop of
up to ~5% cuts the edges and enlarges the rest), their cells differ by at most
`MEAN_MAX` on average and `CELL_MAX` at worst, chroma counted double. These numbers
were measured (docs/decisions.md, bench/duplicates.py) on re-encodes, resizes, PNG
conversions, EXIF-rotated copies and 3% crops against other photos with the same
subject and layout.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

VERSION = 1
SIDE = 12
SIZE = 1 + SIDE * SIDE * 3  # bytes of a fingerprint
ZOOMS = (1.0, 0.985, 0.97, 0.955)  # the part of one photo the other may show
MEAN_MAX = 6.0  # mean cell difference (0-255, chroma ×2) of one picture
CELL_MAX = 56.0  # largest single cell difference of one picture
CHROMA_WEIGHT = 2.0


def compute(image: Image.Image) -> bytes:
    """The fingerprint of an upright image (any mode; RGB as decoded for the model)."""
    small = image.convert("RGB").convert("YCbCr").resize((SIDE, SIDE), Image.BOX)
    return bytes([VERSION]) + small.tobytes()


def valid(blob: bytes | None) -> bool:
    return blob is not None and len(blob) == SIZE and blob[0] == VERSION


def cells(blobs: list[bytes]) -> np.ndarray:
    """Fingerprints as a float32 array (count, SIDE, SIDE, 3)."""
    raw = np.frombuffer(b"".join(b[1:] for b in blobs), dtype=np.uint8)
    return raw.reshape(len(blobs), SIDE, SIDE, 3).astype(np.float32)


@cache
def _zoom_matrix(zoom: float) -> np.ndarray:
    """R such that R @ X @ R.T is X's centred part `zoom` of its side, bilinearly
    enlarged back to SIDE×SIDE (what Pillow's resize with a box does)."""
    n = SIDE
    margin = n * (1 - zoom) / 2
    matrix = np.zeros((n, n), np.float32)
    for i in range(n):
        src = margin + (i + 0.5) * zoom - 0.5
        lo = int(np.floor(src))
        frac = src - lo
        for j, w in ((lo, 1 - frac), (lo + 1, frac)):
            matrix[i, min(max(j, 0), n - 1)] += w
    return matrix


def _zoomed(x: np.ndarray, zoom: float) -> np.ndarray:
    if zoom == 1.0:
        return x
    r = _zoom_matrix(zoom)
    return np.einsum("ij,mjkc,lk->milc", r, x, r, optimize=True)


def _cell_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b)
    d[..., 1:] *= CHROMA_WEIGHT
    return d.max(axis=-1).reshape(len(a), -1)


def differences(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For pairs of fingerprints (`cells` arrays of equal length): the mean and the largest
    cell difference at the alignment (zoom of either side) with the smallest mean."""
    best_mean = np.full(len(a), np.inf, np.float32)
    best_max = np.full(len(a), np.inf, np.float32)
    if not len(a):
        return best_mean, best_max
    for zoom in ZOOMS:
        pairs = [(a, _zoomed(b, zoom))] if zoom == 1.0 else \
            [(a, _zoomed(b, zoom)), (_zoomed(a, zoom), b)]
        for x, y in pairs:
            d = _cell_diff(x, y)
            mean, top = d.mean(axis=1), d.max(axis=1)
            better = mean < best_mean
            best_mean = np.where(better, mean, best_mean)
            best_max = np.where(better, top, best_max)
    return best_mean, best_max


def plain_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean cell difference without any zoom (uint8 or float cells, chroma ×2): a
    cheap first look that rules out most pairs."""
    if not len(a):
        return np.zeros(0, np.float32)
    if a.dtype == np.uint8:
        a, b = a.astype(np.int16), b.astype(np.int16)
    d = np.abs(a - b)
    d[..., 1:] *= CHROMA_WEIGHT if d.dtype.kind == "f" else int(CHROMA_WEIGHT)
    return d.max(axis=-1).reshape(len(a), -1).mean(axis=1)


def coarse(cells: np.ndarray) -> np.ndarray:
    """Cells averaged over 3×3 blocks (4×4 per photo): `plain_mean` of two coarse arrays
    is at most that of the cells (a mean of differences is at least the difference of
    means), so a pair it rules out the full look would rule out too."""
    c = cells.astype(np.float32).reshape(len(cells), SIDE // 3, 3, SIDE // 3, 3, 3)
    return c.mean(axis=(2, 4))


def same_picture(mean: np.ndarray, top: np.ndarray) -> np.ndarray:
    return (mean <= MEAN_MAX) & (top <= CELL_MAX)


def similarity(mean: np.ndarray | float) -> np.ndarray | float:
    """1.0 for identical cells, falling by 1/255 per unit of mean difference."""
    return np.round(1.0 - np.asarray(mean) / 255.0, 4)
