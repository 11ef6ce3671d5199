"""Helpers for the watch tests: a running worker on a real library, and what a user sees."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from imagezoo import picture

from photofind.core.ingest import scanner
from photofind.core.ingest.writer import Writer
from photofind.core.search.searcher import Searcher
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir


def wait_for(predicate, timeout: float = 15.0, what: str = "", interval: float = 0.05):
    """Poll `predicate` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def jpeg_bytes(seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    buf = io.BytesIO()
    picture(seed, size).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def index_library(data_dir: Path, root: Path, model: str) -> None:
    from photofind.core.model.specs import ModelSpec

    with Writer(DataDir(data_dir), "index") as writer:
        writer.add_roots([str(root)])
        writer.load_model(ModelSpec.parse(model))
        writer.index()


class Library:
    """What another process sees: the catalog, and search results."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = DataDir(data_dir)
        self._searcher: Searcher | None = None

    def query(self, sql: str, *args) -> list[tuple]:
        catalog = Catalog.open_for_reading(self.data_dir.catalog)
        try:
            return list(catalog.conn.execute(sql, args))
        finally:
            catalog.close()

    def paths(self) -> set[str]:
        return {p for (p,) in self.query("SELECT path FROM photos")}

    def failures(self) -> dict[str, str]:
        return dict(self.query("SELECT path, reason FROM failures"))

    def similar(self, image: Path, limit: int = 1) -> list[str]:
        if self._searcher is None:
            self._searcher = Searcher(self.data_dir, device="cpu")
        return [r.path for r in self._searcher.search_image(image, limit)]

    def top(self, image: Path) -> str | None:
        found = self.similar(image)
        return found[0] if found else None

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()


def files_on_disk(*roots: Path) -> set[str]:
    return {item.path for root in roots for item in scanner.walk(os.path.realpath(root))
            if isinstance(item, scanner.Found)}
