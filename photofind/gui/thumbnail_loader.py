"""Thumbnails for the grid, loaded on a thread pool and handed to the GUI thread.

The delegate asks for a thumbnail when it paints a cell; a miss queues a request and the
cell shows a placeholder until `ready` fires. Requests are served newest first and the
queue is short, so after a fast scroll the cells now on screen load first and the ones
scrolled past are dropped. Finished thumbnails are cached in memory (QPixmap, an LRU
bounded in bytes) and on disk (`photofind.core.media.thumbnails`, in the data directory).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from photofind.core.errors import NotAnImage
from photofind.core.media.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)
Key = tuple[str, int]  # (photo path, bucket)


class _PixmapLru:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: OrderedDict[object, QPixmap] = OrderedDict()

    def get(self, key) -> QPixmap | None:
        pixmap = self.items.get(key)
        if pixmap is not None:
            self.items.move_to_end(key)
        return pixmap

    def put(self, key, pixmap: QPixmap) -> None:
        old = self.items.pop(key, None)
        if old is not None:
            self.bytes -= _cost(old)
        self.items[key] = pixmap
        self.bytes += _cost(pixmap)
        while self.bytes > self.max_bytes and len(self.items) > 1:
            _, evicted = self.items.popitem(last=False)
            self.bytes -= _cost(evicted)

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


class _Signals(QObject):
    loaded = Signal(object, QImage)  # key, image
    failed = Signal(object, str)  # key, reason


class _Worker(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        loader = self.loader
        while True:
            key = loader._next_request()
            if key is None:
                return
            path, bucket = key
            try:
                image = QImage(str(loader.cache.get(path, bucket)))
                if image.isNull():
                    raise NotAnImage("the cached thumbnail could not be read")
            except (NotAnImage, OSError) as exc:
                loader._signals.failed.emit(key, str(exc))
            except Exception as exc:  # a decoder bug must not kill the pool thread
                log.exception("thumbnail of %s failed", path)
                loader._signals.failed.emit(key, f"{type(exc).__name__}: {exc}")
            else:
                loader._signals.loaded.emit(key, image)


class ThumbnailLoader(QObject):
    """Lives in the GUI thread. `pixmap()` answers from memory or queues a load."""

    ready = Signal(str)  # path whose thumbnail (some bucket) is now in memory

    def __init__(self, cache: ThumbnailCache, threads: int = 2, memory_bytes: int = 160 << 20,
                 queue_length: int = 160, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self.queue_length = queue_length
        self._memory = _PixmapLru(memory_bytes)
        self._fitted = _PixmapLru(memory_bytes // 2)
        self._failed: dict[Key, str] = {}
        self._queue: OrderedDict[Key, None] = OrderedDict()  # newest last
        self._busy: set[Key] = set()
        self._lock = threading.Lock()
        self._workers = 0
        self._signals = _Signals()
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)

    # --- GUI thread ----------------------------------------------------------------------

    def pixmap(self, path: str, bucket: int) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and a load is queued."""
        key = (path, bucket)
        pixmap = self._memory.get(key)
        if pixmap is None and key not in self._failed:
            self.request(path, bucket)
        return pixmap

    def fitted(self, path: str, bucket: int, size: QSize) -> QPixmap | None:
        """The thumbnail scaled smoothly to fit `size` (device pixels), cached, so painting
        a cell is a plain blit."""
        key = (path, bucket, size.width(), size.height())
        pixmap = self._fitted.get(key)
        if pixmap is not None:
            return pixmap
        source = self.pixmap(path, bucket)
        if source is None:
            return None
        if source.width() <= size.width() and source.height() <= size.height():
            pixmap = source
        else:
            pixmap = source.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self._fitted.put(key, pixmap)
        return pixmap

    def failure(self, path: str, bucket: int) -> str | None:
        return self._failed.get((path, bucket))

    def request(self, path: str, bucket: int) -> None:
        key = (path, bucket)
        with self._lock:
            if key in self._busy:
                return
            self._queue[key] = None
            self._queue.move_to_end(key)
            while len(self._queue) > self.queue_length:
                self._queue.popitem(last=False)  # scrolled past long ago
            start = self._workers < self.pool.maxThreadCount()
            if start:
                self._workers += 1
        if start:
            self.pool.start(_Worker(self))

    def forget_fitted(self) -> None:
        """Drop scaled copies (after a zoom change)."""
        self._fitted.clear()

    def cancel_pending(self) -> None:
        with self._lock:
            self._queue.clear()

    def shutdown(self, wait_ms: int = 3000) -> None:
        self.cancel_pending()
        self.pool.waitForDone(wait_ms)

    @Slot(object, QImage)
    def _on_loaded(self, key: Key, image: QImage) -> None:
        with self._lock:
            self._busy.discard(key)
        self._memory.put(key, QPixmap.fromImage(image))
        self.ready.emit(key[0])

    @Slot(object, str)
    def _on_failed(self, key: Key, reason: str) -> None:
        with self._lock:
            self._busy.discard(key)
        self._failed[key] = reason
        self.ready.emit(key[0])

    # --- pool threads ------------------------------------------------------------------

    def _next_request(self) -> Key | None:
        with self._lock:
            if not self._queue:
                self._workers -= 1
                return None
            key, _ = self._queue.popitem(last=True)  # newest first
            self._busy.add(key)
            return key
