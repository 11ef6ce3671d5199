"""The ONNX Runtime backend: exported from the same open_clip model, close to torch fp32,
cached in the data directory; and text queries that need neither torch nor open_clip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import outside_copy
from imagezoo import jpeg_with_orientation, make_library, picture

from photofind.core.media.decode import open_image
from photofind.core.model import onnxrt
from photofind.core.model.embedder import Embedder
from photofind.core.model.specs import ModelSpec

pytestmark = pytest.mark.skipif(not onnxrt.can_export(), reason="onnxruntime/onnx not installed")


def photos(tmp_path: Path, count: int = 12) -> list[Path]:
    files = [jpeg_with_orientation(picture(i, (640, 480)), tmp_path / f"p{i}.jpg", 1 + i % 8)
             for i in range(count)]
    return files


def vectors(embedder: Embedder, files: list[Path]) -> np.ndarray:
    tensors = [embedder.preprocess(open_image(f, embedder.image_size)[0].image) for f in files]
    return embedder.embed_images(tensors)


def test_tokenizer_matches_open_clip():
    import open_clip

    from photofind.core.model.tokenizer import Tokenizer

    theirs = open_clip.get_tokenizer("ViT-B-32")
    ours = Tokenizer(77)
    for text in ["a dog on the beach at sunset", "Kids on a RED sled!!", "café &amp; naïve  x",
                 "", "日本の写真 123", "it's a photo's caption", "word " * 100]:
        assert np.array_equal(ours([text]), theirs([text]).numpy()), text


@pytest.mark.parametrize("model", ["tiny", "demo"])
def test_onnx_image_vectors_stay_close_to_torch(model, tiny_model, tmp_path):
    spec = ModelSpec.demo() if model == "demo" else ModelSpec.parse(tiny_model)
    cache = tmp_path / "models"
    files = photos(tmp_path)
    reference = vectors(Embedder(spec, "cpu", cache, backend="torch"), files)
    fp32 = Embedder(spec, "cpu", cache, backend="onnx", precision="fp32")
    assert (fp32.backend, fp32.precision) == ("onnx", "fp32")
    assert (vectors(fp32, files) * reference).sum(axis=1).min() > 0.9999
    int8 = Embedder(spec, "cpu", cache, backend="onnx", precision="int8")
    verdict = json.loads(onnxrt.tower_path(cache, int8.model_id, "image", "int8")
                         .with_suffix(".json").read_text())
    assert int8.precision == ("int8" if verdict["ok"] else "fp32")
    assert (vectors(int8, files) * reference).sum(axis=1).min() >= 0.99
    assert int8.model_id == fp32.model_id == spec.model_id()


def test_exported_towers_are_cached_and_reused(tiny_model, tmp_path):
    spec = ModelSpec.parse(tiny_model)
    cache = tmp_path / "models"
    first = Embedder(spec, "cpu", cache, backend="onnx")
    folder = onnxrt.folder(cache, first.model_id)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert "image-fp32.onnx" in stamps and not any(n.endswith(".part") for n in stamps)
    Embedder(spec, "cpu", cache, backend="onnx")
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps


def test_torch_backend_is_still_selectable(tiny_model, tmp_path):
    e = Embedder(ModelSpec.parse(tiny_model), "cpu", tmp_path / "models", backend="torch")
    assert (e.backend, e.precision) == ("torch", "fp32")
    assert not (tmp_path / "models" / "onnx").exists()


def photofind_fresh(data_dir: Path, *args: str) -> tuple[list[str], str]:
    """`photofind --data-dir DATA ARGS…` in a fresh interpreter: which of torch, open_clip,
    torchvision it imported, and what it printed."""
    code = (
        "import json, sys\n"
        "from photofind.cli import main\n"
        f"main({['--data-dir', str(data_dir), *map(str, args)]!r})\n"
        "print(json.dumps(sorted(m for m in ('torch', 'open_clip', 'torchvision')"
        " if m in sys.modules)), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stderr.strip().splitlines()[-1]), run.stdout


def test_search_runs_without_torch_and_agrees_with_it(tiny_model, cli, data_dir, tmp_path):
    from photofind.core.search.searcher import Searcher
    from photofind.core.store.datadir import DataDir

    make_library(tmp_path / "lib", count=8)
    cli("index", tmp_path / "lib", "--model", tiny_model)
    loaded, out = photofind_fresh(data_dir, "search", "a red thing", "--json")
    assert loaded == []
    fast = json.loads(out)["results"]
    searcher = Searcher(DataDir(data_dir))
    try:
        exact = Embedder(searcher.spec, "cpu", DataDir(data_dir).models,
                         backend="torch").embed_text("a red thing")  # torch fp32
        fast_vector = searcher.embed_text("a red thing")  # the exported tower (int8 if close)
        assert float(np.dot(fast_vector, exact)) >= 0.99
        reference = searcher.search_vector(fast_vector, 20)
    finally:
        searcher.close()
    assert [r["path"] for r in fast] == [r.path for r in reference]


def test_fast_preprocess_matches_open_clip(tiny_model, tmp_path):
    import open_clip

    e = Embedder(ModelSpec.parse(tiny_model), "cpu", tmp_path / "models", backend="torch")
    _, _, reference = open_clip.create_model_and_transforms("ViT-B-32-256")
    from photofind.core.model.preprocess import fast_preprocess

    fast = fast_preprocess(reference)
    assert fast is not reference
    for i, f in enumerate(photos(tmp_path, 4)):
        image = open_image(f, 256)[0].image
        if i == 3:
            image = image.convert("L")  # another mode goes through the same conversion
        assert np.abs(fast(image).numpy() - reference(image).numpy()).max() < 1e-4
    assert e.preprocess(image).shape == (3, e.image_size, e.image_size)


def test_nothing_changed_rescan_loads_no_model(tiny_model, cli, data_dir, tmp_path):
    lib = make_library(tmp_path / "lib", count=4)
    cli("index", tmp_path / "lib", "--model", tiny_model)
    loaded, out = photofind_fresh(data_dir, "index", "--json")
    assert loaded == []
    assert json.loads(out)["unchanged"] == len(lib)
    # a change loads the model and embeds it as before
    picture(99).save(tmp_path / "lib" / "new.jpg")
    assert cli.json("index")["embedded"] == 1


@pytest.mark.parametrize("model", ["ViT-B-32-256", "demo"])
def test_pil_preprocess_gives_open_clips_pixels(model, tmp_path):
    """The torch-free preprocessing feeds the model the very pixels open_clip's transform
    would: any size, aspect, mode, smaller than the model or not."""
    import open_clip
    from PIL import Image

    from photofind.core.model.preprocess import PilPreprocess

    name = f"local-dir:{ModelSpec.demo().local_dir}" if model == "demo" else model
    _, _, reference = open_clip.create_model_and_transforms(name)
    desc = PilPreprocess.describe(reference)
    assert desc is not None
    ours = PilPreprocess(json.loads(json.dumps(desc)))  # as stored in image.json
    sizes = [(640, 480), (480, 640), (256, 256), (300, 1000), (97, 61), (64, 64), (1200, 257)]
    for i, size in enumerate(sizes):
        image = picture(i, size)
        if i == 4:
            image = image.convert("L")
        if i == 5:
            image = image.convert("RGBA")
        want = reference(image).numpy()
        got = ours(image)
        assert got.dtype == np.float32 and got.shape == want.shape, size
        assert np.abs(got - want).max() < 1e-5, size
    assert PilPreprocess.describe(Image.open) is None  # not a transform it can replay


def test_indexing_new_photos_needs_no_torch_once_exported(tiny_model, cli, data_dir, tmp_path):
    """After the first run exported the model, indexing new photos and finding similar
    ones start without torch, and make the vectors the exported tower made before."""
    from photofind.core.store.datadir import DataDir

    lib = make_library(tmp_path / "lib", count=4)
    cli("index", tmp_path / "lib", "--model", tiny_model)
    query = outside_copy(lib["jpeg"])  # the photo itself is left out of its own results
    shown = cli.json("similar", query, "--limit", "1")["results"][0]
    for i in range(3):
        picture(40 + i).save(tmp_path / "lib" / f"new{i}.jpg")
    loaded, out = photofind_fresh(data_dir, "index", "--json")
    assert loaded == []
    assert json.loads(out)["embedded"] == 3
    loaded, out = photofind_fresh(data_dir, "similar", query, "--json", "--limit", "1")
    assert loaded == []
    (best,) = json.loads(out)["results"]
    assert best["path"] == shown["path"] == str(lib["jpeg"])
    assert best["score"] == pytest.approx(1, abs=1e-3)
    # the same vectors as the torch-loading embedder that exported the tower
    fast = Embedder(ModelSpec.parse(tiny_model), "cpu", DataDir(data_dir).models)
    assert fast.torch_free and fast.backend == "onnx"
    files = [tmp_path / "lib" / f"new{i}.jpg" for i in range(3)]
    slow = Embedder(ModelSpec.parse(tiny_model), "cpu", DataDir(data_dir).models,
                    backend="onnx")
    slow._load_torch()
    from photofind.core.model.preprocess import fast_preprocess
    slow.preprocess = fast_preprocess(slow.transform)  # open_clip's own pixels
    assert (vectors(fast, files) * vectors(slow, files)).sum(axis=1).min() > 0.9999


def test_a_cache_from_before_image_json_is_upgraded(tiny_model, cli, data_dir, tmp_path):
    """Towers exported by an older photofind (no image.json) are used as they are, and
    the description is written, so the next start is torch-free."""
    from photofind.core.store.datadir import DataDir

    make_library(tmp_path / "lib", count=3)
    cli("index", tmp_path / "lib", "--model", tiny_model)
    models = DataDir(data_dir).models
    meta = onnxrt.folder(models, ModelSpec.parse(tiny_model).model_id()) / "image.json"
    towers = {p.name: p.stat().st_mtime_ns for p in meta.parent.glob("*.onnx")}
    meta.unlink()
    first = Embedder(ModelSpec.parse(tiny_model), "cpu", models)
    assert not first.torch_free and first.backend == "onnx" and meta.is_file()
    assert {p.name: p.stat().st_mtime_ns for p in meta.parent.glob("*.onnx")} == towers
    assert Embedder(ModelSpec.parse(tiny_model), "cpu", models).torch_free
