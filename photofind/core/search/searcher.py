"""The searcher: answers text and image queries against a library from any number of
processes at once; never writes to it. `Engine` (engine.py) runs a `Query` over it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.media.decode import open_image
from photofind.core.model.embedder import Embedder
from photofind.core.model.specs import active_spec
from photofind.core.model.textencoder import TextEncoder
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.core.store.vectorindex import VectorIndex, read_state


def empty_library_error() -> PhotofindError:
    return PhotofindError(
        "the library is empty: run 'photofind index FOLDER' to add your photos, "
        "or 'photofind demo' to try photofind on a demo library"
    )


@dataclass
class Result:
    id: int
    path: str
    score: float
    width: int | None
    height: int | None
    taken: str | None
    size: int
    format: str | None

    def to_json(self) -> dict:
        data = asdict(self)
        del data["id"]
        data["score"] = round(float(self.score), 4)
        return data


class Searcher:
    """Answers text and image queries against a library; never writes to it.

    Text queries use the model's text tower exported to ONNX when the data directory has
    it (model/textencoder.py): no torch, no open_clip, so a `photofind search` starts in well under
    a second. The torch model is loaded only when needed (image queries, or no export)."""

    def __init__(self, data_dir: DataDir, device: str = "auto") -> None:
        self.data_dir = data_dir
        catalog = Catalog.open_for_reading(data_dir.catalog)
        spec = active_spec(catalog) if catalog else None
        if catalog is None or spec is None:
            raise empty_library_error()
        self.catalog = catalog
        self.spec = spec
        self.device = device
        self.model = spec.model_id()
        self._embedder: Embedder | None = None
        state = read_state(catalog)
        saved_dim = state.dim if state is not None and state.model == self.model else None
        self._text: TextEncoder | None = None
        loading = None
        if device in ("auto", "cpu"):
            def load_text() -> None:
                self._text = TextEncoder.cached(data_dir.models, self.model)

            if saved_dim is None:
                load_text()
            else:  # ONNX Runtime builds the session while usearch loads the index (~0.25 s)
                loading = threading.Thread(target=load_text, name="photofind-text-load",
                                           daemon=True)
                loading.start()
        if saved_dim is not None:
            dim = saved_dim
        elif self._text is not None:
            dim = self._text.dim
        else:
            dim = self.embedder.dim
        self.vectors = VectorIndex.open_for_reading(data_dir.root, catalog, self.model, dim)
        if loading is not None:
            loading.join()
            if self._text is not None and self._text.dim != dim:  # a stale export: trust it
                self.vectors = VectorIndex.open_for_reading(
                    data_dir.root, catalog, self.model, self._text.dim)

    @property
    def embedder(self) -> Embedder:
        """The model for image queries, loaded on first use: the exported ONNX image
        tower when the data directory has it (no torch), else torch. A searcher never
        exports (that is the indexer's job, and takes a while)."""
        if self._embedder is None:
            self._embedder = Embedder(self.spec, device=self.device,
                                      cache_dir=self.data_dir.models, export=False)
        return self._embedder

    def embed_text(self, text: str) -> np.ndarray:
        if self._text is not None:
            return self._text.embed(text)
        return self.embedder.embed_text(text)

    def close(self) -> None:
        self.catalog.close()

    def refresh(self) -> None:
        """Take in what the writer committed since the last query."""
        self.vectors.catch_up(self.catalog)

    def words_used(self, text: str) -> tuple[int, int] | None:
        """(words the model reads, words in `text`) when `text` is longer than the text
        tower's context and its end is cut off; None when the model reads all of it."""
        from photofind.core.model.tokenizer import words_that_fit

        tokenizer = self._text.tokenizer if self._text is not None else self.embedder.tokenizer
        encode, length = getattr(tokenizer, "encode", None), getattr(
            tokenizer, "context_length", None)
        if encode is None or not length:
            return None  # a tokenizer that cannot tell (not CLIP's BPE)
        return words_that_fit(encode, int(length), text)

    def search_text(self, text: str, limit: int = 20) -> list[Result]:
        if not text.strip():
            raise PhotofindError("the search text is empty; type what the photos show")
        return self._nearest(self.embed_text(text), limit)

    def search_image(self, path: str | Path, limit: int = 20) -> list[Result]:
        return self.search_images([path], limit)

    def search_images(self, paths: Sequence[str | Path], limit: int = 20) -> list[Result]:
        """Photos that look like all of `paths`: the nearest to the mean of their vectors."""
        tensors = []
        for path in paths:
            try:
                decoded, _hash, _size = open_image(path, self.embedder.image_size)
            except NotAnImage as exc:
                raise PhotofindError(f"cannot search with {path}: {exc}") from None
            tensors.append(self.embedder.preprocess(decoded.image))
        if not tensors:
            raise PhotofindError("no image to search with")
        mean = self.embedder.embed_images(tensors).mean(axis=0)
        return self._nearest(mean / max(float(np.linalg.norm(mean)), 1e-12), limit)

    def search_vector(self, vector, limit: int = 20) -> list[Result]:
        """Photos nearest to a vector this library's model already made (normalised)."""
        return self._nearest(vector, limit)

    def _nearest(self, vector, limit: int) -> list[Result]:
        self.refresh()
        want = max(1, min(limit, len(self.vectors)))  # never more than the library holds
        results = self._lookup(vector, want)
        if results is None:
            # the index held photos deleted (or re-embedded by another model) since it was
            # loaded: drop them, so they cannot take the place of real results
            self.vectors.drop_stale(self.catalog)
            results = self._lookup(vector, want, strict=False)
        return results

    def _lookup(self, vector, want: int, strict: bool = True) -> list[Result] | None:
        """The `want` nearest photos. A candidate no longer cataloged for this model makes a
        strict lookup return None; otherwise it is skipped."""
        ids, scores = self.vectors.search(vector, want * 2 + 16)
        photos = self.catalog.photos(int(i) for i in ids)
        results = []
        for key, score in zip(ids, scores, strict=True):
            photo = photos.get(int(key))
            if photo is None or photo.model != self.model:
                if strict:
                    return None
                continue
            results.append(Result(photo.id, photo.path, float(score), photo.width, photo.height,
                                  photo.taken, photo.size, photo.format))
            if len(results) == want:
                break
        return results
