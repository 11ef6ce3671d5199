"""Offline: once a model is on disk, indexing and searching open no network connection.

photofind runs as a separate process with a `sitecustomize` that installs an audit hook
(PEP 578): every DNS lookup, socket connect or URL request the interpreter makes is
written down and refused. HF_HUB_OFFLINE is *not* set, so it is photofind's own
offline-first loading that is tested. The model is a hub model (`hf-hub:ORG/REPO`) whose
files are in the data directory's Hugging Face cache, as a first download leaves them.
A control run with a model that is not on disk shows the hook does see photofind reach
for the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import outside_copy
from faultkit_crash import small_jpeg, write_atomically

SITECUSTOMIZE = '''
import os, sys

_LOG = os.environ["PHOTOFIND_TEST_NET_LOG"]
_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg", "urllib.Request",
           "http.client.connect", "socket.bind"}


def _hook(event, args):
    if event not in _EVENTS:
        return
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg") \\
            and isinstance(args[1], (str, bytes)):
        return  # AF_UNIX: local, not the network
    with open(_LOG, "a") as f:
        f.write(f"{os.getpid()} {' '.join(sys.argv[:3])}: {event} {args[1:]!r}\\n")
    raise OSError(101, "network use blocked by the offline test")


sys.addaudithook(_hook)
'''

REPO = "photofind-tests/tiny-clip"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def put_in_hub_cache(models: Path, model_dir: Path, repo: str = REPO) -> None:
    """The model's files where a first `--model hf-hub:…` download leaves them."""
    org, name = repo.split("/")
    cache = models / f"models--{org}--{name}"
    snapshot = cache / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for file in ("open_clip_config.json", "open_clip_model.safetensors"):
        shutil.copyfile(model_dir / file, snapshot / file)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text(REVISION)


@pytest.fixture
def offline(tmp_path):
    hook = tmp_path / "offline-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "network.log"
    log.touch()
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update(PYTHONPATH=os.pathsep.join([str(hook), env.get("PYTHONPATH", "")]),
               PHOTOFIND_TEST_NET_LOG=str(log))

    def run(data: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(data),
                               *map(str, args)], capture_output=True, text=True, env=env,
                              timeout=600)

    run.log = log
    return run


def test_indexing_and_searching_use_no_network(offline, tmp_path, tiny_model):
    data = tmp_path / "data"
    put_in_hub_cache(data / "models", Path(tiny_model.removeprefix("local-dir:")))
    root = tmp_path / "Pictures"
    for n in range(6):
        write_atomically(root / f"p{n}.jpg", small_jpeg(n))
    spec = f"hf-hub:{REPO}"

    first = offline(data, "index", root, "--model", spec, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["added"] == 6
    search = offline(data, "search", "a dog on a beach", "--json")
    assert search.returncode == 0 and len(json.loads(search.stdout)["results"]) == 6
    similar = offline(data, "similar", outside_copy(root / "p3.jpg"), "--limit", "1", "--json")
    assert similar.returncode == 0, similar.stderr
    assert json.loads(similar.stdout)["results"][0]["path"] == str(root / "p3.jpg")
    status = offline(data, "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["model"] == spec
    assert offline.log.read_text() == "", "photofind used the network"

    # the control: a model that is not on disk makes photofind look for the hub, and the
    # hook sees it — then photofind says in one line what to do
    missing = offline(tmp_path / "data2", "index", root, "--model", "hf-hub:nobody/absent")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr
    assert "hf-hub:nobody/absent" in missing.stderr and "local-dir:" in missing.stderr
    assert "socket" in offline.log.read_text()
