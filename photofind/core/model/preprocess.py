"""Preparing pixels for the image tower: open_clip's transform replayed in Pillow and
numpy (`PilPreprocess`, no torch), and open_clip's own with its last steps in numpy
(`fast_preprocess`)."""

from __future__ import annotations

import numpy as np


class PilPreprocess:
    """open_clip's usual image transform (Resize of the short side, bicubic; CenterCrop;
    RGB; ToTensor; Normalize) in Pillow and numpy: the same pixels as torchvision's PIL
    path (tests/test_onnx_backend.py checks), as float32 (3, S, S), with no torch."""

    RESAMPLE = {"bicubic": 3, "bilinear": 2, "nearest": 0, "lanczos": 1, "box": 4, "hamming": 5}

    def __init__(self, desc: dict) -> None:
        self.desc = desc
        self.resize = int(desc["resize"])
        self.crop = (int(desc["crop"][0]), int(desc["crop"][1]))  # height, width
        self.resample = self.RESAMPLE[desc["interpolation"]]
        std = np.asarray(desc["std"], dtype=np.float32)
        self.scale = 1.0 / (255.0 * std)
        self.offset = -np.asarray(desc["mean"], dtype=np.float32) / std

    @staticmethod
    def describe(preprocess) -> dict | None:
        """The description of open_clip transform `preprocess` this class can replay, or
        None when it is of another shape (that model keeps torch's transform)."""
        steps = list(getattr(preprocess, "transforms", []))
        names = [type(step).__name__ for step in steps]
        if len(steps) != 5 or names[0] != "Resize" or names[1] != "CenterCrop" \
                or names[2] not in ("MaybeConvertMode", "function") \
                or names[3] not in ("ToTensor", "MaybeToTensor") or names[4] != "Normalize":
            return None
        resize, crop, convert, normalize = steps[0], steps[1], steps[2], steps[4]
        size = resize.size
        if isinstance(size, list | tuple):
            if len(size) != 1:
                return None
            size = size[0]
        interpolation = getattr(resize.interpolation, "value", str(resize.interpolation))
        if resize.max_size is not None or interpolation not in PilPreprocess.RESAMPLE \
                or getattr(convert, "mode", "RGB") != "RGB":
            return None
        return {"resize": int(size), "interpolation": interpolation,
                "crop": [int(crop.size[0]), int(crop.size[1])],
                "mean": [float(v) for v in normalize.mean],
                "std": [float(v) for v in normalize.std]}

    def __call__(self, image) -> np.ndarray:
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        if short != self.resize:
            new_long = int(self.resize * long / short)
            size = (self.resize, new_long) if width <= height else (new_long, self.resize)
            image = image.resize(size, self.resample)
            width, height = size
        crop_h, crop_w = self.crop
        if width < crop_w or height < crop_h:
            raise ValueError("image smaller than the crop after resizing")  # not for this shape
        top = int(round((height - crop_h) / 2.0))
        left = int(round((width - crop_w) / 2.0))
        if (left, top, width, height) != (0, 0, crop_w, crop_h):
            image = image.crop((left, top, left + crop_w, top + crop_h))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float32) * self.scale + self.offset
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def fast_preprocess(preprocess):
    """open_clip's transform with its last two steps (ToTensor, Normalize: ~19 ms of CPU
    per photo here, as much as decoding it) done in numpy (~1 ms), same values to float
    rounding. Transforms of another shape are returned unchanged."""
    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) < 3 or type(steps[-2]).__name__ not in ("ToTensor", "MaybeToTensor") \
            or type(steps[-1]).__name__ != "Normalize":
        return preprocess
    head = steps[:-2]
    mean = np.asarray(steps[-1].mean, dtype=np.float32)
    std = np.asarray(steps[-1].std, dtype=np.float32)
    scale, offset = 1.0 / (255.0 * std), -mean / std

    def run(image):
        import torch
        from PIL import Image

        for step in head:
            image = step(image)
        if not isinstance(image, Image.Image):
            return steps[-1](steps[-2](image))
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float32) * scale + offset
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))

    run.transforms = steps
    return run
