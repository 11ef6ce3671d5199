"""A HEIC photo's stored preview stands in for the photo when it is large enough for the
model (issue 22, item 1): real HEIC files written by pillow-heif with previews, as phones
write them."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

pillow_heif = pytest.importorskip("pillow_heif")

from photofind.core.media import decode as dec  # noqa: E402


def picture(size=(1024, 768)) -> Image.Image:
    img = Image.new("RGB", size, (40, 110, 200))
    draw = ImageDraw.Draw(img)
    draw.ellipse((size[0] // 3, size[1] // 4, size[0] // 3 + size[1] // 2, 3 * size[1] // 4),
                 fill=(220, 30, 30))
    draw.rectangle((0, 0, size[0] // 6, size[1] // 6), fill=(250, 250, 250))
    return img


def heic(img: Image.Image, previews: list[int], **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "HEIF", quality=70, thumbnails=previews, **kw)
    return buf.getvalue()


def test_a_preview_at_least_nine_tenths_of_the_input_is_decoded_instead_of_the_photo():
    data = heic(picture(), [512])  # a 512×384 preview
    used = dec.decode_for_model(data, 256)  # 384 ≥ 256: the preview
    assert used.image.size == (512, 384)
    assert (used.width, used.height, used.format) == (1024, 768, "HEIF")  # the photo's own
    slightly_small = dec.decode_for_model(data, 420)  # 384 ≥ 0.9 × 420 = 378
    assert slightly_small.image.size == (512, 384)


def test_a_preview_too_small_for_the_model_is_ignored_and_the_photo_decoded():
    data = heic(picture(), [160])  # 160×120: a 64 px model could use it, a 256 px one not
    full = dec.decode_for_model(data, 256)
    assert full.image.size == (1024, 768)
    assert dec.decode_for_model(data, 64).image.size == (160, 120)
    no_preview = dec.decode_for_model(heic(picture(), []), 64)  # the photo, box-reduced
    assert no_preview.image.size == dec.shrink(picture(), 64).size == (171, 128)


def test_the_preview_shows_what_the_photo_shows():
    data = heic(picture(), [512])
    preview = dec.decode_for_model(data, 256).image.resize((64, 48), Image.Resampling.BOX)
    photo = dec.decode(data, 0).image.resize((64, 48), Image.Resampling.BOX)
    diff = np.abs(np.asarray(preview, dtype=float) - np.asarray(photo, dtype=float)).mean()
    assert diff < 6  # mean difference per channel, out of 255


def test_a_turned_photo_and_its_preview_come_out_the_same_way_up():
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90° clockwise to view
    data = heic(picture(), [512], exif=exif.tobytes())
    full = dec.decode_for_model(data, 500)  # no usable preview (384 < 450)
    used = dec.decode_for_model(data, 256)
    assert used.image.size[0] < used.image.size[1]  # portrait, as the photo
    assert (full.image.size[0] < full.image.size[1]) == (used.image.size[0] < used.image.size[1])
    assert (used.width, used.height) == (full.width, full.height)


def test_indexing_a_heic_with_a_preview_records_the_photos_own_size(cli, tmp_path, tiny_model):
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(heic(picture(), [320]))
    (folder / "IMG_0002.HEIC").write_bytes(heic(picture((768, 1024)), []))
    cli("index", str(folder), "--model", tiny_model)
    found = {r["path"].rsplit("/", 1)[1]: r
             for r in json.loads(cli("search", "a red circle", "--json"))["results"]}
    assert (found["IMG_0001.HEIC"]["width"], found["IMG_0001.HEIC"]["height"]) == (1024, 768)
    assert (found["IMG_0002.HEIC"]["width"], found["IMG_0002.HEIC"]["height"]) == (768, 1024)
