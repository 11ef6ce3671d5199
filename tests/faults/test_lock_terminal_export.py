"""The writer lock, the terminal, and the model exporter (issue 17, items 12-14).

- Deleting `writer.lock` while `photofind watch` runs lets no second writer in.
- File names reach the terminal as text: a newline cannot print a fake result line, an
  escape sequence cannot retitle or clear the terminal (JSON output is exact already).
- The ONNX exporter, a child process writing into the data folder, dies with the
  `photofind index` that started it (`kill -9` included); what it left half-written is
  never used, and the next run completes the export.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit_attack import cataloged, fault
from faultkit_crash import prepared_models, seed_models
from faultkit_input import index_json, photofind
from imagezoo import make_library, picture, save
from watching import wait_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes and signals")


def test_deleting_the_lock_file_lets_no_second_writer_in(tmp_path, tiny_model,
                                                          tmp_path_factory, record_property):
    fault(record_property, 12)
    root = tmp_path / "Pictures"
    make_library(root, count=2)
    data = tmp_path / "data"
    seed_models(data, prepared_models(tmp_path_factory, tiny_model))
    index_json(photofind(data, "index", root, "--model", tiny_model, "--json"))
    log = tmp_path / "watch.log"
    with open(log, "w") as err:
        watch = subprocess.Popen([sys.executable, "-m", "photofind", "--data-dir", str(data),
                                  "watch"], stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: "watching" in log.read_text() or watch.poll() is not None,
                 timeout=120, what="watch to start")
        (data / "writer.lock").unlink()
        more = tmp_path / "More"
        save(picture(900), more / "x.jpg", quality=85)
        second = photofind(data, "index", more)
        assert second.returncode == 1, (second.stdout, second.stderr)
        assert "another photofind" in second.stderr and "Traceback" not in second.stderr
        assert photofind(data, "status", "--json").returncode == 0
        assert json.loads(photofind(data, "status", "--json").stdout)["indexing"] is True
        late = save(picture(901), root / "late.jpg", quality=85)  # watch still writes alone
        wait_for(lambda: str(late) in cataloged(data), timeout=60, what="watch indexing")
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(60)
    assert "UNIQUE constraint" not in log.read_text() and "error" not in log.read_text()
    assert str(more / "x.jpg") not in cataloged(data)


NAMES = {
    "newline": "holiday\n 0.999  looks-like-a-result.jpg",
    "title": "beach\x1b]0;pwned\x07.jpg",
    "clear": "sunset\x1b[2J\x1b[H.jpg",
    "bell": "ring\x07\x07.png",
}


def test_file_names_cannot_drive_the_terminal(tmp_path, tiny_model, tmp_path_factory,
                                              record_property):
    fault(record_property, 13)
    root = tmp_path / "Pictures"
    for n, name in enumerate(NAMES.values()):
        save(picture(950 + n), root / name, **({"quality": 85} if name.endswith(".jpg") else {}))
    broken = root / "broken\x1b[31mred.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = tmp_path / "data"
    seed_models(data, prepared_models(tmp_path_factory, tiny_model))

    indexed = photofind(data, "index", root, "--model", tiny_model)
    assert indexed.returncode == 0, indexed.stderr
    searched = photofind(data, "search", "red", "--limit", 10)
    status = photofind(data, "status", "--failed")
    for done in (indexed, searched, status):
        assert done.returncode == 0, done.stderr
        for stream in (done.stdout, done.stderr):
            assert "\x1b" not in stream and "\x07" not in stream, repr(stream)
    results = [line for line in searched.stdout.splitlines() if line.strip()]
    assert len(results) == len(NAMES), searched.stdout  # one line per photo, no fake ones
    assert any("holiday\\n 0.999" in line for line in results)
    assert any("beach\\x1b]0;pwned\\x07.jpg" in line for line in results)
    assert "broken\\x1b[31mred.jpg" in indexed.stdout and "broken\\x1b[31mred.jpg" in status.stdout

    exact = json.loads(photofind(data, "search", "red", "--limit", 10, "--json").stdout)
    assert {r["path"] for r in exact["results"]} == {str(p) for p in root.glob("*")
                                                      if p != broken}


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != pid:
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(entry), cmdline))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_model_exporter_dies_with_its_parent(tmp_path, tiny_model, record_property):
    fault(record_property, 14)
    root = tmp_path / "Pictures"
    make_library(root, count=2)
    data = tmp_path / "data"  # a fresh data folder: the first index exports the model
    index = subprocess.Popen([sys.executable, "-m", "photofind", "--data-dir", str(data),
                              "index", str(root), "--model", tiny_model, "--backend", "onnx"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        exporter = wait_for(lambda: next((p for p, cmd in _children(index.pid)
                                          if "photofind.core.model.export" in cmd), None)
                            or index.poll() is not None, timeout=180,
                            what="the exporter to start")
        assert exporter is not True, "index ended without exporting"
        os.kill(index.pid, signal.SIGKILL)
        index.wait(30)
        deadline = time.monotonic() + 10
        while _alive(exporter) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(exporter), "the exporter outlived its parent"
    finally:
        if index.poll() is None:
            index.kill()
            index.wait(30)

    # the same command again (the model was not recorded yet: the first run died exporting)
    done = photofind(data, "index", root, "--model", tiny_model, "--backend", "onnx", "--json",
                     timeout=600)
    report = index_json(done)
    assert report["failed"] == []
    assert not list((data / "models").glob("**/*.part")), "a half-written export was left"
    hit = photofind(data, "search", "red", "--limit", 1, "--json")
    assert hit.returncode == 0 and json.loads(hit.stdout)["results"], hit.stderr
