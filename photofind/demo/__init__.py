"""Synthetic demo scenes with known captions (see :mod:`photofind.demo.scenes`)."""

from photofind.demo.scenes import (
    COLOURS,
    DEFAULT_SIZE,
    SHAPES,
    SIZES,
    SPLITS,
    Scene,
    caption_forms,
    global_seed,
    jpeg_bytes,
    make_scene,
    parse_stem,
    render,
    scene_matches,
    split_of,
    write_library,
)

__all__ = [
    "COLOURS",
    "DEFAULT_SIZE",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "Scene",
    "caption_forms",
    "global_seed",
    "jpeg_bytes",
    "make_scene",
    "parse_stem",
    "render",
    "scene_matches",
    "split_of",
    "write_library",
]
