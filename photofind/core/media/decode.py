"""Opening images safely and cheaply.

Each file is read once: its bytes are hashed (for move and copy detection) and decoded
from memory. Only allow-listed formats are decoded; a pixel limit guards against
decompression bombs; JPEGs are decoded at reduced scale with `Image.draft` when the
model needs far fewer pixels; EXIF orientation is applied; animations give their first
frame; CMYK, 16-bit, palette and alpha images become plain RGB.

Failures raise `NotAnImage` with a reason a person can act on.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from photofind.core.errors import NotAnImage, one_line
from photofind.core.media import filecheck
from photofind.core.media.filecheck import PERMISSION_DENIED  # noqa: F401  (kept here for callers)

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF = False

# Extensions the scanner considers; the decoder checks the real format, not the name.
EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp",
    ".heic", ".heif", ".hif", ".avif",
})
FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF"})
MAX_PIXELS = 200_000_000  # a 30000×3000 panorama is fine; a 20000×20000 bomb is not
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
DATETIME = 0x0132
ORIENTATION = 0x0112

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass
class Decoded:
    image: Image.Image  # RGB, upright, at least `min_side` on its short side where possible
    width: int  # of the full, upright image
    height: int
    format: str
    taken: str | None  # ISO 8601 from EXIF DateTimeOriginal, if present


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_file(path: str | Path) -> bytes:
    """A regular file's bytes, refused early when it cannot be an image (filecheck.py)."""
    return filecheck.read_image_file(path)


def decode(data: bytes, min_side: int, reduce: bool = False, for_model: bool = False
           ) -> Decoded:
    """Decode image bytes into an upright RGB image whose short side is ≥ `min_side`
    (or the image's own size when smaller). `reduce`: also `shrink` it, before it is
    turned upright (a 12 MP HEIC or PNG is turned at a fraction of its pixels).
    `for_model`: an image far longer than wide keeps only its middle (filecheck.py).
    An image that would cost more memory to decode than filecheck allows is refused."""
    if not data:
        raise NotAnImage("the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": noise, not news
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            if fmt not in FORMATS:
                raise NotAnImage(f"{fmt} images are not supported")
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise NotAnImage(
                    f"image is too large to decode safely ({width}×{height} pixels, "
                    f"limit {MAX_PIXELS // 1_000_000} megapixels)"
                )
            exif = img.getexif()
            orientation = exif.get(ORIENTATION, 1)
            taken = _taken(exif)
            if fmt in ("JPEG", "MPO") and min_side > 0:
                img.draft("RGB", (min_side, min_side))
            preview = heif_preview(data, img, min_side) if reduce and fmt in HEIF_FORMATS \
                else None
            if preview is not None:  # the phone's own preview: no full decode
                img = preview
            else:
                filecheck.check_decode_cost(fmt, img.size)  # after the draft: what is decoded
                if getattr(img, "n_frames", 1) > 1:
                    img.seek(0)
                img.load()
            if for_model:
                img = filecheck.crop_to_aspect(img)
            if reduce:
                img = shrink(img, min_side)
            turn = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
            if turn is not None:
                img = img.transpose(turn)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            rgb = to_rgb(img)
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise NotAnImage(_reason(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, TypeError,
            IndexError, KeyError, ZeroDivisionError, struct.error,
            RuntimeError) as exc:  # pillow-heif: RuntimeError("Memory allocation error…")
        raise NotAnImage(_reason(exc)) from None
    return Decoded(rgb, width, height, "JPEG" if fmt == "MPO" else fmt, taken)


HEIF_FORMATS = ("HEIF", "AVIF")
# A HEIF file's preview stands in for the photo when its short side is at least this share
# of the model's input: measured in docs/decisions.md ("HEIC previews").
PREVIEW_SHARE = 0.9


def heif_preview(data: bytes, img: Image.Image, min_side: int) -> Image.Image | None:
    """The smallest preview image stored in a HEIF/AVIF file (phones write one) whose short
    side is at least `PREVIEW_SHARE` × `min_side` and whose shape is the photo's; None when
    there is none, or it cannot be read (then the photo itself is decoded)."""
    boxes = img.info.get("thumbnails") or []
    width, height = img.size
    if not HEIF or min_side <= 0 or not boxes or min(width, height) <= 0:
        return None
    ratio = min(width, height) / max(width, height)
    usable = [i for i, box in enumerate(boxes) if box * ratio >= PREVIEW_SHARE * min_side]
    if not usable:
        return None
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        preview = heif[heif.primary_index].get_thumbnail(min(usable, key=boxes.__getitem__))
        preview = preview.to_pillow()
    except (OSError, ValueError, RuntimeError, IndexError, KeyError):
        return None
    w, h = preview.size
    if min(w, h) < PREVIEW_SHARE * min_side or abs(w / h - width / height) > 0.02 * width / height:
        return None  # not what the file said, or not a picture of the whole photo
    return preview


def decode_for_model(data: bytes, min_side: int) -> Decoded:
    """`decode` with `shrink` (before the turn): what the model's preprocess transform
    gets, for indexing (in a decode worker process) and for find-similar alike, so both
    see the same pixels."""
    return decode(data, min_side, reduce=True, for_model=True)


# EXIF orientation → the turn that makes the image upright (as ImageOps.exif_transpose,
# which also copies an image that needs no turn: 36 MB for a 12 MP HEIC)
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def shrink(img: Image.Image, min_side: int) -> Image.Image:
    """A box-filtered reduction by a whole factor while the short side stays ≥ 2×`min_side`
    (a 30000×3000 PNG panorama becomes ~1300×130 for a 64 px model, not 270 MB of pixels
    to hand between processes); the model's own resize does the rest."""
    factor = min(img.size) // (2 * min_side) if min_side > 0 else 0
    if factor < 2:
        return img
    if img.mode not in _REDUCIBLE:  # palette (GIF, PNG, BMP), 1-bit, 16-bit grey
        img = img.convert("L") if img.mode == "1" else to_rgb(img)
    return img.reduce(factor)


# the modes Image.reduce takes ("image has wrong mode" for the others)
_REDUCIBLE = frozenset({"L", "LA", "La", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                        "YCbCr", "LAB", "HSV", "I", "F"})


def open_image(path: str | Path, min_side: int) -> tuple[Decoded, str, int]:
    """Read, hash and decode a file for the model: (decoded, content hash, byte size)."""
    data = read_file(path)
    return decode_for_model(data, min_side), content_hash(data), len(data)


def to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping everything to white
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
        return img.convert("RGB")
    if mode == "F":
        return img.convert("L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _taken(exif: Image.Exif) -> str | None:
    """EXIF DateTimeOriginal (else DateTime) as ISO 8601 local time, with the
    OffsetTimeOriginal (`+02:00`) appended where the camera wrote one."""
    value = offset = None
    try:
        ifd = exif.get_ifd(EXIF_IFD)
        value = ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
        offset = ifd.get(OFFSET_TIME_ORIGINAL) if ifd.get(DATETIME_ORIGINAL) else None
    except Exception:  # malformed EXIF must never fail the photo
        return None
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ")
    if len(value) < 19 or value.startswith("0000"):
        return None
    date, _, clock = value[:19].partition(" ")
    date = date.replace(":", "-")
    if len(date) != 10 or not date[:4].isdigit():
        return None
    if not (len(clock) == 8 and clock[2] == clock[5] == ":" and clock.replace(":", "").isdigit()):
        return None
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        offset = offset.strip("\x00 ")
        if offset[0] in "+-" and offset[3] == ":" and (offset[1:3] + offset[4:]).isdigit():
            return f"{date}T{clock}{offset}"
    return f"{date}T{clock}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image file (damaged, or not an image)"
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "image is too large to decode safely (decompression bomb limit)"
    detail = one_line(exc)
    if "truncated" in detail.lower():
        return detail if detail.startswith("image file is truncated") \
            else f"image file is truncated ({detail})"
    return f"image could not be decoded ({detail})"


def unexpected(exc: BaseException) -> str:
    """The recorded reason for a file that met a bug rather than bad bytes."""
    return f"unexpected error while decoding ({type(exc).__name__}: {one_line(str(exc))})"
