"""Fuzzing the decode-and-embed path with hypothesis.

Inputs: arbitrary bytes, image magic numbers followed by arbitrary bytes, and real JPEG,
PNG, GIF, WebP, TIFF, BMP and HEIC files (some with an EXIF orientation) mutated by bit
flips, overwrites, cuts, duplications and insertions, often in their headers. Every
input either decodes to an RGB image (upright where the input was a known, unmutated
picture) and embeds to a finite unit vector, or is rejected with a one-line reason
(`NotAnImage`) — never another exception, never a hang (each input has 30 s).

PHOTOFIND_FUZZ_EXAMPLES sets the number of examples (default 300 in-process and 40
through the decoder processes, a few seconds); a long run:
    PHOTOFIND_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q tests/faults/test_fuzz.py -s
"""

from __future__ import annotations

import base64
import io
import os
import signal
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from imagezoo import jpeg_with_orientation, picture
from PIL import Image

from photofind.core.errors import NotAnImage
from photofind.core.media.decode import MAX_PIXELS, decode_for_model

EXAMPLES = int(os.environ.get("PHOTOFIND_FUZZ_EXAMPLES", "300"))
POOL_EXAMPLES = max(10, EXAMPLES // 8)
SECONDS_PER_INPUT = 30
MAGICS = [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"GIF87a",
          b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"II*\x00", b"MM\x00*", b"BM",
          b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x1cftypavif", b"P6\n", b"\x00\x00\x01\x00"]

# Inputs the fuzzer found; each one a bug fixed. A mutated HEIC that pillow-heif rejects
# with RuntimeError("Memory allocation error: Security limit exceeded…\n"): it escaped
# decode() and its reason spanned two lines.
REGRESSIONS = [
    base64.b64decode(
    "AAAAHGZ0eXBoZWljAAAAAG1pZjFoZWljbWlhZgAAAX1tZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAA"
    "AAAAAAAAAAAAACJpbG9jAAAAAERAAAEAAQAAAAABoQABAAAAAAAAAVAAAAAjaWluZgAAAAAAAQAAABVpbmZlAgAA"
    "AAABAABodmMxAAAAAA5waXRtAAAAAAABAAAA/WlwcnAAAADdaXBjbwAAAHZodmNDAQNwAAAAkAAAAAAAHvAA/P34"
    "+AAADwNgAAEAGEABDAH//wNwAAADAJAAAAMAAAMAHroCQGEAAQAqQgEBA3AAAAMAkAAAAwAAAwAeoCCABZbq5Ka5"
    "uAhoMCAAAAMDIAAAAwAhYgABAAZEAcFzwIkAAAATY29scm5jbHgAAQANAAaAAAAAFGlzcGUAAAAAAAAAQAAAAEAA"
    "AAAoY2xhcAAAADAAAAABAAAAKAAAAAH////wAAAAAv///+gAAAACAAAAEHBpeGkAAAAAAwgICAAAABhpcG1hAAAA"
    "AAAAAAEAAQWBAgMFhAAAAVhtZGF0AAABTCgBrxOA5UHPHmhJSG7eCx7SR2KqTNhcRAyt+W07LBpn0+qmDHOco5h2"
    "jnpbKgjIFke4c7xK1pDTdEq9H8jDknKYxoml/MqcKp4O4mfAXlwMOm+7ckC9ieS5L3JOe3I5ZHBAaXgaXefHdJ9l"
    "qotRhM6k6FbbK08MEVXcT/HnBOJ2+hMumBb6qPADgxT0O0CTSd1Glb5R3CCJ4w9nrI4VpJTwVrgVj3Tl3K9bNquE"
    "OoF5QzGPCbdZwQxS8/wKW3XnMGm9H+iW5KHwVajgIc1TKyJqSXetl0UkPzJs9zS6rPUxlY+kYKtkTf43Q3ILDRG+"
    "rV/zvyYglUHRs7U5M8BTOBg+emA/1uwi0Ey0BOMsZZe3Z/GiMACu/t4PJRXW4iNgw58+HH4awaCmKQSIBzP0CCS0"
    "xAgosT1rU67aOR6ZCBMu1ZXk03DiFJMLYnfw"
    ),
]


def _seeds(tmp) -> list[bytes]:
    def encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    small = picture(3, (48, 40))
    frames = [picture(i, (32, 32)) for i in range(2)]
    return [
        encoded(small, "JPEG", quality=80),
        jpeg_with_orientation(small, tmp / "o6.jpg", 6).read_bytes(),
        jpeg_with_orientation(small, tmp / "o3.jpg", 3).read_bytes(),
        encoded(small.convert("CMYK"), "JPEG"),
        encoded(small, "JPEG", progressive=True),
        encoded(small, "PNG"),
        encoded(small.convert("P"), "PNG", transparency=0),
        encoded(small.convert("LA"), "PNG"),
        encoded(frames[0].convert("P"), "GIF", save_all=True,
                append_images=[frames[1].convert("P")]),
        encoded(small, "WEBP"),
        encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        encoded(small, "TIFF"),
        encoded(small, "TIFF", compression="tiff_deflate"),
        encoded(small, "BMP"),
        encoded(small, "HEIF"),
    ]


@st.composite
def _mutated(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        head = draw(st.booleans())
        limit = min(len(data), 600) if head else len(data)
        pos = draw(st.integers(0, max(0, limit - 1)))
        op = draw(st.sampled_from(["flip", "set", "cut", "truncate", "dup", "insert", "zero"]))
        if not data:
            break
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif op == "cut":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 256))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        else:
            data[pos:pos + draw(st.integers(1, 16))] = bytes(min(16, len(data) - pos))
    return bytes(data)


def _inputs(seeds: list[bytes]):
    return st.one_of(
        st.binary(max_size=2048),
        st.builds(lambda magic, tail: magic + tail, st.sampled_from(MAGICS),
                  st.binary(max_size=2048)),
        _mutated(seeds),
        _mutated(seeds),
        _mutated(seeds),
    )


def _regressions(test):
    for data in REGRESSIONS:
        test = example(data)(test)
    return test


class _Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Hang(f"an input took longer than {SECONDS_PER_INPUT} s")


@pytest.fixture(scope="module")
def embedder(tiny_model):
    from photofind.core.model.embedder import Embedder
    from photofind.core.model.specs import ModelSpec

    return Embedder(ModelSpec.parse(tiny_model), device="cpu", backend="torch")


def _check_decoded(decoded, embedder) -> None:
    image = decoded.image
    assert image.mode == "RGB" and min(image.size) >= 1
    assert decoded.width >= 1 and decoded.height >= 1
    assert decoded.width * decoded.height <= MAX_PIXELS
    vector = embedder.embed_images([embedder.preprocess(image)])[0]
    assert vector.shape == (64,) and np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3


def _check_reason(reason: str) -> None:
    assert reason and "\n" not in reason and len(reason) < 400, reason


def test_fuzz_decode_and_embed(embedder, tmp_path_factory):
    seeds = _seeds(tmp_path_factory.mktemp("seeds"))
    outcomes: Counter[str] = Counter()
    previous = signal.signal(signal.SIGALRM, _alarm)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(_inputs(seeds))
    @_regressions
    def one(data: bytes) -> None:
        signal.alarm(SECONDS_PER_INPUT)
        try:
            decoded = decode_for_model(data, embedder.image_size)
        except NotAnImage as exc:
            _check_reason(str(exc))
            outcomes["rejected"] += 1
            return
        finally:
            signal.alarm(0)
        _check_decoded(decoded, embedder)
        outcomes["decoded"] += 1

    try:
        one()
    finally:
        signal.signal(signal.SIGALRM, previous)
    total = sum(outcomes.values())
    print(f"\nfuzz: {total} inputs through decode + embed: {dict(outcomes)}")
    assert total >= EXAMPLES // 2 and outcomes["decoded"] and outcomes["rejected"]

    # the unmutated seeds decode upright: the EXIF-rotated ones match the plain picture
    plain = np.asarray(decode_for_model(seeds[0], 0).image, dtype=np.float32)
    for rotated in seeds[1:3]:
        upright = np.asarray(decode_for_model(rotated, 0).image, dtype=np.float32)
        assert upright.shape == plain.shape and np.abs(upright - plain).mean() < 8


def test_fuzz_through_decoder_processes(embedder, tmp_path_factory):
    """The same inputs through the worker processes the indexer uses: every answer is an
    image or a NotAnImage; the pool survives all of them."""
    from photofind.core.ingest.decodepool import DecoderPool

    seeds = _seeds(tmp_path_factory.mktemp("seeds"))
    pool = DecoderPool(timeout_s=SECONDS_PER_INPUT)
    outcomes: Counter[str] = Counter()

    @settings(max_examples=POOL_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_inputs(seeds))
    @_regressions
    def one(data: bytes) -> None:
        try:
            decoded = pool.decode(data, embedder.image_size, "fuzz.jpg")
        except NotAnImage as exc:
            _check_reason(str(exc))
            assert "crashed" not in str(exc) and "longer than" not in str(exc), exc
            outcomes["rejected"] += 1
            return
        _check_decoded(decoded, embedder)
        outcomes["decoded"] += 1

    try:
        one()
    finally:
        pool.close()
    print(f"\nfuzz: {sum(outcomes.values())} inputs through the decoder processes: "
          f"{dict(outcomes)}; worker crashes: {pool.crashes}")
    assert pool.crashes == 0
