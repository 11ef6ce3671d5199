"""Indexing progress on a terminal: a tqdm bar on stderr (count, rate, ETA).

When stderr is not a terminal, a few plain lines instead of a redrawn bar.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from photofind.core.ingest.indexer import Progress
from photofind.terminal import shown


class TerminalProgress:
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_line = 0.0

    def update(self, progress: Progress) -> None:
        if progress.stage == "scanning" and self.tty:
            self.stream.write(f"\rphotofind: looking for photos in {shown(progress.root)}\033[K")
            self.stream.flush()
        elif progress.stage == "indexing":
            if self.bar is None:
                if self.tty:
                    self.stream.write("\r\033[K")
                self.bar = tqdm(total=progress.total, unit="photo", file=self.stream,
                                desc="indexing", dynamic_ncols=True, smoothing=0.1,
                                disable=not self.tty)
                if not self.tty:
                    self.stream.write(f"photofind: indexing {progress.total} new or changed "
                                      "photo(s)\n")
            self.bar.update(progress.done - self.bar.n)
            if not self.tty and time.monotonic() - self._last_line > 10:
                self._last_line = time.monotonic()
                if progress.done:
                    self.stream.write(f"photofind: {progress.done}/{progress.total} done\n")
        elif progress.stage == "saving" and self.tty and self.bar is None:
            self.stream.write("\r\033[K")

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
