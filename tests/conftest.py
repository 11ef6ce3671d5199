"""Shared fixtures: a small open_clip model with random weights, real libraries, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach for a model hub

TINY_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def write_random_model(folder: Path, seed: int = 0, config: dict = TINY_CONFIG) -> Path:
    """A real open_clip model with random weights, as a local-dir: folder."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**config)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return f"local-dir:{write_random_model(tmp_path_factory.mktemp('models') / 'tiny')}"


@pytest.fixture(scope="session")
def other_model(tmp_path_factory) -> str:
    return f"local-dir:{write_random_model(tmp_path_factory.mktemp('models') / 'other', seed=1)}"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


class Cli:
    """Runs photofind's real command line in this process and returns what it printed."""

    def __init__(self, capsys, data_dir: Path) -> None:
        self.capsys = capsys
        self.data_dir = data_dir

    def __call__(self, *args: str, expect: int = 0):
        from photofind.cli import main

        self.capsys.readouterr()
        code = main(["--data-dir", str(self.data_dir), *map(str, args)])
        out, err = self.capsys.readouterr()
        assert code == expect, f"exit {code}, expected {expect}\nstdout: {out}\nstderr: {err}"
        self.err = err
        return out

    def json(self, *args: str, expect: int = 0) -> dict:
        return json.loads(self(*args, "--json", expect=expect))


@pytest.fixture
def cli(capsys, data_dir) -> Cli:
    return Cli(capsys, data_dir)


def run_photofind(*args: str, env: dict | None = None, timeout: float = 120
                  ) -> subprocess.CompletedProcess:
    """photofind in a child process, as a person runs it."""
    return subprocess.run(
        [sys.executable, "-m", "photofind", *map(str, args)], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def outside_copy(path) -> Path:
    """A copy of a library photo from outside any library. `similar` with a library photo
    leaves that photo out of its results, so a test that checks a photo's own vector (its
    best match is itself, at ~1.0) asks with a copy."""
    folder = Path(tempfile.mkdtemp(prefix="photofind-query-"))
    target = folder / Path(path).name
    shutil.copyfile(path, target)
    return target
