"""Which results are good matches: a cut-off that adapts to each query and each model.

A fixed score threshold cannot work: cosine scores sit in a narrow band whose place
depends on the model, the query's wording and the photo (the demo model gives a nonsense
query 0.50–0.52 and real hits 0.49–0.78). So a photo is judged against *other
descriptions of the same photo*: a shipped list of background phrases (common photo
subjects; a model folder may ship its own `phrases.txt`, as the demo model does with its
colours and shapes). A photo is a good match for a text query when the query describes it
better than every background phrase that does not say the same thing as the query (those
with a text–text cosine ≥ 0.9 to it are set aside). "asdfgh" never beats a photo's own
subject; "red circle" beats "blue circle", "red square" and "green star" on a red circle.

`-word` terms take a good match away when the photo passes the same test for that word.
Image queries (`similar`, `like:`) are judged against a fixed sample of the library
instead: a photo is a good match when the query image is closer to it than any of the
sampled photos is. docs/decisions.md ("Good matches") has the measurements that chose
both rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

SAME_MEANING = 0.9  # background phrases this close to the query say the same thing
PHRASES_FILE = "phrases.txt"
CACHE_FILE = "background.npz"
IMAGE_SAMPLE = 256  # library photos an image query is compared against


def phrase_list(model_dir: Path | None) -> list[str]:
    """The background phrases for a model: its folder's own `phrases.txt`, else the
    general list shipped with photofind."""
    if model_dir is not None and (model_dir / PHRASES_FILE).is_file():
        text = (model_dir / PHRASES_FILE).read_text(encoding="utf-8")
    else:
        text = resources.files("photofind.resources").joinpath(
            "phrases", "general.txt").read_text(encoding="utf-8")
    phrases = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and line not in phrases:
            phrases.append(line)
    return phrases


def _digest(phrases: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(phrases).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Background:
    phrases: tuple[str, ...]
    vectors: np.ndarray  # (len(phrases), dim), L2-normalised float32

    @classmethod
    def embed(cls, phrases: Sequence[str],
              embed_texts: Callable[[list[str]], np.ndarray]) -> Background:
        vectors = np.asarray(embed_texts(list(phrases)), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return cls(tuple(phrases), vectors)

    def save(self, folder: Path) -> None:
        """Cache the vectors next to the exported model (the writer does this once)."""
        import os
        import tempfile

        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".background-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, vectors=self.vectors.astype(np.float16),
                         meta=np.frombuffer(json.dumps(
                             {"digest": _digest(self.phrases)}).encode(), dtype=np.uint8))
            os.replace(tmp, folder / CACHE_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, folder: Path, phrases: Sequence[str]) -> Background | None:
        """The cached vectors, if they were made from these very phrases."""
        try:
            with np.load(folder / CACHE_FILE) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                vectors = data["vectors"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            return None
        if meta.get("digest") != _digest(phrases) or len(vectors) != len(phrases):
            return None
        return cls(tuple(phrases), vectors)


def text_good(query: np.ndarray, photos: np.ndarray, background: Background) -> np.ndarray:
    """For each photo vector (rows of `photos`), whether the text `query` vector describes
    it better than every background phrase that means something else."""
    if len(photos) == 0:
        return np.zeros(0, dtype=bool)
    query = np.asarray(query, dtype=np.float32)
    others = background.vectors[background.vectors @ query < SAME_MEANING]
    scores = photos @ query
    if len(others) == 0:
        return np.ones(len(photos), dtype=bool)
    return scores > (photos @ others.T).max(axis=1)


def image_good(query: np.ndarray, photos: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """For each photo vector, whether the image `query` vector is closer to it than any
    photo of a fixed library `sample` (the photo itself and exact copies set aside)."""
    if len(photos) == 0:
        return np.zeros(0, dtype=bool)
    scores = photos @ np.asarray(query, dtype=np.float32)
    if len(sample) == 0:
        return np.ones(len(photos), dtype=bool)
    near = photos @ sample.T
    near[near > 0.999] = -1.0  # a photo (or its copy) in the sample is not its own rival
    return scores > near.max(axis=1)


def library_sample(ids: np.ndarray, count: int = IMAGE_SAMPLE) -> np.ndarray:
    """A fixed sample of photo ids (the same library gives the same sample)."""
    if len(ids) <= count:
        return np.sort(ids)
    rng = np.random.default_rng(20240601)
    return np.sort(rng.choice(np.sort(ids), size=count, replace=False))
