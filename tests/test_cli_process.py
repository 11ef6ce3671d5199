"""photofind as a separate process: exit codes, stdout/stderr split, no tracebacks."""

from __future__ import annotations

import json

from conftest import run_photofind
from imagezoo import make_library


def test_process_contract(tmp_path, tiny_model):
    data = tmp_path / "data"
    root = tmp_path / "Pictures"
    make_library(root, count=2)

    usage = run_photofind("--data-dir", data, "search", "red", "--limit", "lots")
    assert usage.returncode == 2 and "usage:" in usage.stderr

    missing = run_photofind("--data-dir", data, "index", tmp_path / "nowhere")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr

    done = run_photofind("--data-dir", data, "index", root, "--model", tiny_model, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout is exactly one JSON document
    assert report["added"] == 10

    env_dir = run_photofind("status", "--json", env={"PHOTOFIND_DATA_DIR": str(data)})
    assert json.loads(env_dir.stdout)["photos"] == 10
    flag_wins = run_photofind("--data-dir", data, "status", "--json",
                              env={"PHOTOFIND_DATA_DIR": str(tmp_path / "elsewhere")})
    assert json.loads(flag_wins.stdout)["photos"] == 10

    search = run_photofind("--data-dir", data, "search", "a red sled", "--limit", "3")
    assert search.returncode == 0 and len(search.stdout.strip().splitlines()) == 3
