"""What a file must be before photofind reads it, and what an image may cost to decode.

Paths come from the library walk, the command line, and what a person drops or pastes on
the window. Whatever they name, photofind reads only a regular file (a FIFO would block
for ever, `/dev/zero` never ends), of at most `MAX_FILE_BYTES`, whose first bytes look like
one of the image formats it decodes (a 2 GB file named `.jpg` that is not an image is
refused after 32 bytes, not after reading 2 GB). An image whose pixels would cost more
memory to decode than `DECODE_BUDGET` is refused before decoding (a 7 KB WebP can claim
192 megapixels, ~3 GB to decode); one far longer than wide is cropped to its middle for
the model, which sees only the middle anyway. Decoder processes run under a memory
limit (`limit_memory`) in case an estimate is wrong.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from PIL import Image

from photofind.core.errors import NotAnImage, PhotofindError

PERMISSION_DENIED = "permission denied"
MAX_FILE_BYTES = 1 << 30  # 1 GiB: a 200 MP PNG or a 16-bit scan fits
DECODE_BUDGET = 1 << 30  # bytes of decoded pixels and the decoder's own buffers
# Bytes of memory per pixel while decoding, measured with Pillow (tests/faults keeps them
# honest): WebP decodes through libwebp's own frame buffers, HEIF through libheif's planes.
BYTES_PER_PIXEL = {"WEBP": 17, "HEIF": 8, "AVIF": 8, "GIF": 5}
DEFAULT_BYTES_PER_PIXEL = 5
MAX_ASPECT = 16  # longer than 16:1 is cropped to its middle for the model
DECODER_MEMORY = MAX_FILE_BYTES + DECODE_BUDGET + (512 << 20)  # above a decoder's own start
_HEAD = 32


def looks_like_image(head: bytes) -> bool:
    """True when `head`, a file's first bytes, starts like a format photofind decodes."""
    return (head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a",
                             b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"BM"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or head[4:8] == b"ftyp")  # HEIF, HEIC, AVIF (ISO base media)


def read_image_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an image file; NotAnImage, with a reason a person can act on, for
    anything else. Reads no more than the file's first bytes of what is not an image."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise NotAnImage(f"{PERMISSION_DENIED}: photofind cannot read this file") from None
    except FileNotFoundError:
        raise NotAnImage("the file disappeared before it could be read") from None
    except IsADirectoryError:
        raise NotAnImage("this is a folder, not an image") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket
            raise NotAnImage(not_a_file_reason(stat.S_IFSOCK)) from None
        raise NotAnImage(f"could not read the file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAnImage(not_a_file_reason(st.st_mode))
        with os.fdopen(fd, "rb", closefd=False) as f:
            head = f.read(_HEAD)
            if not head:
                return b""
            if not looks_like_image(head):
                raise NotAnImage("not a recognised image file (damaged, or not an image)")
            if st.st_size > MAX_FILE_BYTES:
                raise NotAnImage(too_big_reason(st.st_size))
            data = head + f.read(MAX_FILE_BYTES + 1 - len(head))  # it may have grown
        if len(data) > MAX_FILE_BYTES:
            raise NotAnImage(too_big_reason(len(data)))
        return data
    except OSError as exc:
        raise NotAnImage(f"could not read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def not_a_file_reason(mode: int) -> str:
    kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"this is {kind}, not an image file"


def too_big_reason(size: int) -> str:
    return (f"the file is too large to be a photo photofind can read safely "
            f"({size / 2**30:.1f} GiB, limit {MAX_FILE_BYTES / 2**30:g} GiB)")


def check_image_path(path: str) -> None:
    """For a path a person gives (the command line): a one-line PhotofindError unless it
    names a regular file, before anything slow (loading the model) happens."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise PhotofindError(f"no such file: {path}") from None
    except OSError as exc:
        raise PhotofindError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise PhotofindError(f"cannot search with {path}: {not_a_file_reason(st.st_mode)}")
    if st.st_size > MAX_FILE_BYTES:
        raise PhotofindError(f"cannot search with {path}: {too_big_reason(st.st_size)}")


def check_decode_cost(fmt: str, size: tuple[int, int]) -> None:
    """NotAnImage when decoding `size` pixels of `fmt` would take more than DECODE_BUDGET
    (call once the decoder knows the size it will decode: after a JPEG's draft)."""
    width, height = size
    cost = width * height * BYTES_PER_PIXEL.get(fmt, DEFAULT_BYTES_PER_PIXEL)
    if cost > DECODE_BUDGET:
        raise NotAnImage(
            f"image is too large to decode safely ({width}×{height} pixels of {fmt} would "
            f"take ~{cost / 2**30:.1f} GiB of memory, limit {DECODE_BUDGET / 2**30:g} GiB)")


def crop_to_aspect(img: Image.Image, max_aspect: float = MAX_ASPECT) -> Image.Image:
    """The middle of an image longer than `max_aspect`:1 (a 1×20000 sliver would become
    256×5,120,000 pixels in the model's resize of its short side; its centre crop sees
    only the middle)."""
    width, height = img.size
    short, long = min(width, height), max(width, height)
    keep = max(1, int(short * max_aspect))
    if long <= keep:
        return img
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width, start + keep)
    return img.crop(box)


def limit_memory(extra: int = DECODER_MEMORY) -> None:
    """Cap this process's data memory at what it uses now plus `extra` bytes (Linux and
    other POSIX systems; a no-op elsewhere): a decoder that would need more fails with
    MemoryError (that file fails), instead of the machine running out of memory."""
    try:
        import resource
    except ImportError:  # Windows
        return
    now = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                now = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        now = 256 << 20
    wanted = now + extra
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft == resource.RLIM_INFINITY or wanted < soft:
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
        except (OSError, ValueError):
            pass
