"""Real-world variants of the formats photofind reads (issue 16): each one indexes, and
each decodes to the picture a viewer shows, both at full size and shrunk for a model."""

from __future__ import annotations

import numpy as np
import pytest
from imagezoo import make_format_zoo

from photofind.core.media.decode import decode, decode_for_model, read_file


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("format-zoo") / "Pictures"
    return root, make_format_zoo(root)


def test_every_variant_is_indexed(cli, zoo, tiny_model):
    root, files = zoo
    report = cli.json("index", root, "--model", tiny_model)
    failed = {f["path"]: f["reason"] for f in report["failed"]}
    assert failed == {}
    assert report["added"] == len(files)
    # every variant is its own result; stacked (the default), the same picture in many
    # formats is one result with the others as its copies (issue 21)
    results = cli.json("search", "anything", "--limit", 100, "--no-stack")["results"]
    assert {r["path"] for r in results} == {str(path) for path, _seen in files.values()}
    stacked = cli.json("search", "anything", "--limit", 100)["results"]
    assert {p for r in stacked for p in [r["path"], *r.get("copies", [])]} == \
        {r["path"] for r in results}


@pytest.mark.parametrize("min_side", [64, 224])  # shrunk a lot (a small model), or not
@pytest.mark.parametrize("shrink", [True, False])
def test_every_variant_decodes_to_what_a_viewer_shows(zoo, min_side, shrink):
    _root, files = zoo
    wrong = {}
    for name, (path, seen) in files.items():
        data = read_file(path)
        decoded = decode_for_model(data, min_side) if shrink else decode(data, min_side)
        assert decoded.image.mode == "RGB" and (decoded.width, decoded.height) == seen.size
        got = np.asarray(decoded.image.resize((64, 48)), np.float32)
        want = np.asarray(seen.resize((64, 48)), np.float32)
        if np.abs(got - want).mean() > 6:
            wrong[name] = float(np.abs(got - want).mean())
    assert wrong == {}
