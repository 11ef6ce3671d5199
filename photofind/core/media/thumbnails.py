"""The thumbnail cache: small upright JPEGs of photos, kept in the data directory.

A thumbnail is keyed by the photo's path, byte size and mtime (one `stat`, no read), and
by its size bucket, so an edited photo gets a new thumbnail and an unchanged one is never
decoded twice. Thumbnails are made with `photofind.core.media.decode` (EXIF orientation, JPEG
draft decoding, pixel limit) and written atomically (temp file → `os.replace`), so a
reader never sees half a file and two makers of the same thumbnail cannot corrupt it.

No Qt here: the GUI loads the finished file into a QImage in its own worker threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from PIL import Image

from photofind.core.media.decode import decode, read_file
from photofind.core.store.datadir import make_private_dir

BUCKETS = (128, 256, 512)  # longest side in pixels; a request is served by the next one up
QUALITY = 85
SUFFIX = ".jpg"


def bucket_for(pixels: int) -> int:
    """The smallest bucket whose thumbnails are at least `pixels` on their longest side."""
    for size in BUCKETS:
        if pixels <= size:
            return size
    return BUCKETS[-1]


class ThumbnailCache:
    """Finds or makes thumbnails in `folder`; safe to use from many threads at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._made_dirs: set[str] = set()
        self._lock = threading.Lock()

    def key(self, source: str | os.PathLike, size: int, mtime_ns: int, bucket: int) -> str:
        text = f"{os.fspath(source)}\0{size}\0{mtime_ns}\0{bucket}"
        return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()

    def path_for(self, source: str | os.PathLike, bucket: int) -> Path:
        """Where the thumbnail of `source` (as it is now on disk) lives; raises OSError
        when the file cannot be stat'ed."""
        st = os.stat(source)
        key = self.key(source, st.st_size, st.st_mtime_ns, bucket)
        return self.folder / key[:2] / f"{key}-{bucket}{SUFFIX}"

    def get(self, source: str | os.PathLike, pixels: int) -> Path:
        """The cached thumbnail of `source` at least `pixels` on its longest side (up to the
        largest bucket), made now if missing. Raises `NotAnImage` for a file that cannot be
        decoded and `OSError` for one that cannot be stat'ed."""
        bucket = bucket_for(pixels)
        target = self.path_for(source, bucket)
        if target.is_file():
            return target
        image = make_thumbnail(read_file(source), bucket)
        self._write(target, image)
        return target

    def _write(self, target: Path, image: Image.Image) -> None:
        shard = str(target.parent)
        if shard not in self._made_dirs:
            with self._lock:
                make_private_dir(self.folder)
                make_private_dir(target.parent)
                self._made_dirs.add(shard)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            image.save(tmp, "JPEG", quality=QUALITY, optimize=True)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def size_on_disk(self) -> int:
        total = 0
        for path in self.folder.glob(f"*/*{SUFFIX}"):
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def prune(self, max_bytes: int) -> int:
        """Delete the least recently modified thumbnails until the cache fits in
        `max_bytes`; returns how many were deleted. Thumbnails are only a cache."""
        entries = []
        for path in self.folder.glob(f"*/*{SUFFIX}"):
            try:
                st = path.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        deleted = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= max_bytes:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            deleted += 1
        return deleted


def make_thumbnail(data: bytes, bucket: int) -> Image.Image:
    """An upright RGB image no larger than `bucket` on its longest side."""
    decoded = decode(data, bucket, reduce=True)  # box-reduced before it is turned upright
    image = decoded.image
    if max(image.size) > bucket:
        image = image.copy()
        image.thumbnail((bucket, bucket), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image
