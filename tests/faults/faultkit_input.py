"""Helpers for the fault tests about input, disks and decoders: what the library looks like
byte for byte, whether a data directory is sound, small file systems, the CLI as a child."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

PHOTOFIND = [sys.executable, "-m", "photofind"]


# --- the library, byte for byte --------------------------------------------------------------

def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (also hidden ones, also names that are not UTF-8): kind,
    content hash, size, mtime and mode for files; target for links; mode for folders."""
    state: dict[str, tuple] = {}
    top = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, top)
            st = os.lstat(full)
            if os.path.islink(full):
                state[os.fsdecode(rel)] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                state[os.fsdecode(rel)] = ("dir", st.st_mode, st.st_mtime_ns)
            elif os.path.isfile(full):
                digest = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                state[os.fsdecode(rel)] = ("file", digest.hexdigest(), st.st_size,
                                           st.st_mtime_ns, st.st_mode)
            else:
                state[os.fsdecode(rel)] = ("other", st.st_mode, st.st_mtime_ns)
    return state


# --- the data directory ------------------------------------------------------------------------

def failures(data_dir: Path) -> dict[str, str]:
    """The failures table: path → reason (one row per path by construction of a dict, so
    also count rows to prove each failure is recorded once)."""
    from photofind.core.store.catalog import Catalog

    catalog = Catalog.open_for_reading(Path(data_dir) / "catalog.db")
    if catalog is None:
        return {}
    try:
        rows = catalog.conn.execute("SELECT path, reason FROM failures").fetchall()
    finally:
        catalog.close()
    paths = [p for p, _ in rows]
    assert len(paths) == len(set(paths)), "a failure is recorded more than once"
    return dict(rows)


def failure_stamps(data_dir: Path) -> dict[str, object]:
    """path → failed_at: changes only when photofind read the file again."""
    from photofind.core.store.catalog import Catalog

    catalog = Catalog.open_for_reading(Path(data_dir) / "catalog.db")
    try:
        return dict(catalog.conn.execute("SELECT path, failed_at FROM failures").fetchall())
    finally:
        catalog.close()


def check_data_dir(data_dir: Path) -> dict:
    """The catalog passes SQLite's integrity check, and the vector index a reader opens holds
    exactly the catalog's photos with the catalog's vectors; the saved index file, when
    the catalog names one, matches its checksum. Returns {"photos": n, "paths": set}."""
    from photofind.core.store.catalog import Catalog, decode_vector
    from photofind.core.store.vectorindex import VectorIndex, checksum, read_state

    data_dir = Path(data_dir)
    catalog = Catalog.open_for_reading(data_dir / "catalog.db")
    assert catalog is not None, "no catalog"
    try:
        (verdict,) = catalog.conn.execute("PRAGMA integrity_check").fetchone()
        assert verdict == "ok", f"catalog integrity_check: {verdict}"
        rows = catalog.conn.execute("SELECT id, path, model, vector FROM photos").fetchall()
        state = read_state(catalog)
        paths = {path for _id, path, _model, _vector in rows}
        if not rows:
            return {"photos": 0, "paths": paths}
        models = {model for _id, _path, model, _vector in rows}
        assert len(models) == 1, f"vectors of several models: {models}"
        (model,) = models
        vectors = {i: decode_vector(v) for i, _p, _m, v in rows}
        dim = len(next(iter(vectors.values())))
        if state is not None:
            saved = data_dir / state.file
            assert saved.is_file(), f"the catalog names {state.file}, which is missing"
            assert checksum(saved.read_bytes()) == state.checksum, "saved index damaged"
        reader = VectorIndex.open_for_reading(data_dir, catalog, model, dim)
        keys = {int(k) for k in np.asarray(reader.index.keys)}
        assert keys == set(vectors), (
            f"index and catalog disagree: {len(keys - set(vectors))} extra, "
            f"{len(set(vectors) - keys)} missing")
        for key in list(vectors)[:50]:
            got = np.asarray(reader.index.get(key), dtype=np.float32)
            want = vectors[key].astype(np.float32)
            assert np.isfinite(want).all() and abs(np.linalg.norm(want) - 1) < 0.01
            assert float(got @ want) / (np.linalg.norm(got) * np.linalg.norm(want)) > 0.999
        return {"photos": len(rows), "paths": paths}
    finally:
        catalog.close()


# --- running photofind -----------------------------------------------------------------------------

def photofind(data_dir: Path, *args: str, env: dict | None = None, timeout: float = 240,
              preexec_fn=None) -> subprocess.CompletedProcess:
    """photofind's command line in a child process, as a person runs it."""
    return subprocess.run(
        [*PHOTOFIND, "--data-dir", str(data_dir), *map(str, args)], capture_output=True,
        text=True, timeout=timeout, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn,
    )


def one_line_error(stderr: str) -> str:
    """The last line of stderr, asserting it is photofind's one-line error, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.startswith("photofind: error")]
    assert len(lines) == 1, stderr
    return lines[0]


# --- small file systems ---------------------------------------------------------------------------

def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform.startswith("linux") \
        and not os.environ.get("FAULTKIT_NO_MOUNT")  # to try the fallbacks


@contextlib.contextmanager
def tmpfs(folder: Path, size_kb: int):
    """A tmpfs of `size_kb` KiB mounted at `folder`; yields True, or False where mounting is
    not permitted (not root, no CAP_SYS_ADMIN) — then callers limit file sizes instead."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = False
    if _can_mount():
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700",
                               "tmpfs", str(folder)], capture_output=True)
        mounted = done.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@contextlib.contextmanager
def read_only_bind(source: Path, target: Path):
    """`source` also visible read-only at `target` (a bind mount); yields False when not
    permitted."""
    target.mkdir(parents=True, exist_ok=True)
    ok = False
    if _can_mount():
        ok = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(target)],
                            capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


def fill(folder: Path, leave_kb: int) -> Path:
    """A filler file taking all free space on `folder`'s file system but `leave_kb` KiB."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler.bin"
    size = max(0, free - leave_kb * 1024)
    with open(filler, "wb") as f:
        chunk = b"\0" * (1 << 16)
        while size > 0:
            try:
                size -= f.write(chunk[:min(len(chunk), size)])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


def limit_file_size(max_bytes: int):
    """A preexec_fn: files written by the child cannot grow past `max_bytes` (EFBIG)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def index_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)



# --- the bad-input zoo ---------------------------------------------------------------------------

INDEXED, FAILED = "indexed", "failed"


def _jpeg(seed: int, size=(320, 240), **kwargs) -> bytes:
    import io

    from imagezoo import picture

    buf = io.BytesIO()
    picture(seed, size).save(buf, format="JPEG", quality=90, **kwargs)
    return buf.getvalue()


def make_zoo(root: Path) -> dict[str, tuple[Path, str, str]]:
    """Every kind of bad or odd file: name → (path, INDEXED or FAILED, a word the failure
    reason must hold, or "" for any). Special files (FIFO, socket, folder named .jpg) and
    links are not images at all: the scanner must pass them by without reading them."""
    import io
    import socket

    from imagezoo import jpeg_with_orientation, picture, png_bad_checksum, png_bomb_header
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    zoo: dict[str, tuple[Path, str, str]] = {}

    def put(name: str, data: bytes, expect: str, word: str = "") -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        zoo[name] = (path, expect, word)
        return path

    def encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    good = _jpeg(11)
    rng = np.random.default_rng(5)
    # broken files
    put("truncated.jpg", good[: len(good) // 2], FAILED, "truncated")
    put("header-only.jpg", good[:300], FAILED, "")
    put("zero-bytes.jpg", b"", FAILED, "empty")
    put("random-bytes.jpg", rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes(), FAILED,
        "not a recognised image")
    put("shopping-list.png", b"eggs\nmilk\nbread\n" * 20, FAILED, "not a recognised image")
    put("svg-as.jpg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', FAILED, "")
    put("pdf-named.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", FAILED, "")
    png_bad_checksum(root / "bad-crc-header.png")
    zoo["bad-crc-header.png"] = (root / "bad-crc-header.png", FAILED, "")
    png_bomb_header(root / "bomb-header.png")
    zoo["bomb-header.png"] = (root / "bomb-header.png", FAILED, "too large")
    heic = encoded(picture(12), "HEIF")
    put("truncated.heic", heic[: len(heic) // 3], FAILED, "")
    webp = encoded(picture(13), "WEBP")
    put("truncated.webp", webp[: len(webp) // 2], FAILED, "")
    put("jpeg-zeroed-tail.jpg", good[:-2000] + bytes(2000), FAILED, "truncated")
    # odd but fine
    put("really-a-png.jpg", encoded(picture(14), "PNG"), INDEXED)
    put("really-a-jpeg.png", _jpeg(15), INDEXED)
    put("cmyk.jpg", encoded(picture(16).convert("CMYK"), "JPEG"), INDEXED)
    sixteen = Image.fromarray((np.linspace(0, 65535, 96 * 96).reshape(96, 96)).astype(np.uint16))
    put("sixteen-bit.png", encoded(sixteen, "PNG"), INDEXED)
    rgb16 = io.BytesIO()
    _png_rgb16(rgb16, 80, 60)
    put("sixteen-bit-rgb.png", rgb16.getvalue(), INDEXED)
    palette = picture(17, (96, 96)).convert("P")
    put("palette-transparent.png", encoded(palette, "PNG", transparency=0), INDEXED)
    put("rgba.png", encoded(picture(18).convert("RGBA"), "PNG"), INDEXED)
    put("greyscale.jpg", encoded(picture(19).convert("L"), "JPEG"), INDEXED)
    put("one-bit.png", encoded(picture(20).convert("1"), "PNG"), INDEXED)
    put("bad-crc-data.png", _png_bad_idat_crc(encoded(picture(21), "PNG")), INDEXED)
    put("tiff.tif", encoded(picture(22), "TIFF"), INDEXED)
    put("bitmap.bmp", encoded(picture(23), "BMP"), INDEXED)
    put("photo.heic", heic, INDEXED)
    frames = [picture(30 + i, (96, 96)) for i in range(3)]
    put("animated.gif", encoded(frames[0].convert("P"), "GIF", save_all=True,
                                append_images=[f.convert("P") for f in frames[1:]]), INDEXED)
    put("animated.webp", encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                 duration=100), INDEXED)
    put("tiny-1x1.png", encoded(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), INDEXED)
    put("sliver-4000x2.png", encoded(Image.new("RGB", (4000, 2), (90, 9, 9)), "PNG"), INDEXED)
    pano = Image.linear_gradient("L").resize((30000, 3000)).convert("RGB")
    put("panorama-30000x3000.png", encoded(pano, "PNG", compress_level=1), INDEXED)
    for orientation in range(1, 9):
        name = f"orientation-{orientation}.jpg"
        jpeg_with_orientation(picture(40), root / name, orientation)
        zoo[name] = (root / name, INDEXED, "")
    # names
    for name in ("café ☕ 🎉.jpg", "with  spaces .jpg", "new\nline.jpg", "-rf.jpg",
                 "back\\slash.jpg", "x" * 250 + ".jpg", "日本語/写真.jpeg", "UPPER.JPG"):
        put(name, _jpeg(60 + len(zoo)), INDEXED)
    # not regular files: passed by, never opened (a FIFO would block a reader for ever)
    os.mkfifo(root / "pipe.jpg")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "socket.jpg"))
    (root / "folder.jpg").mkdir()
    (root / "link-to-photo.jpg").symlink_to(root / "cmyk.jpg")
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    return zoo


def _png_rgb16(buf, width: int, height: int) -> None:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(
        b"\x00" + b"".join(struct.pack(">HHH", x * 800, y * 1000, 30000) for x in range(width))
        for y in range(height))
    buf.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2,
                                                                  0, 0, 0))
              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _png_bad_idat_crc(data: bytes) -> bytes:
    """A PNG whose IDAT chunk's checksum is wrong (its pixels are intact)."""
    at = data.index(b"IDAT") - 4
    length = int.from_bytes(data[at:at + 4], "big")
    crc = at + 8 + length
    return data[:crc] + bytes(4) + data[crc + 4:]


# The image tower's backend is not what these tests are about: torch spares each fresh data
# directory the one-off ONNX export (~10 s here) that `--backend auto` would do first.
TORCH = ("--backend", "torch")
