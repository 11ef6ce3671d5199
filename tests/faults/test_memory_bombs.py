"""Memory bombs and hangs (issue 17, items 6-9): files and options that used to cost
gigabytes or block for ever.

Each photofind process here runs under a data-memory limit (RLIMIT_DATA, 3 GiB: the
ordinary runs need ~1 GiB), so an attack that comes back is caught by a refused
allocation, not by the test machine running out of memory. The files are real: a
164-byte-class PNG sliver, a FIFO, /dev/zero, sparse 2 GB files, a WebP that claims far
more pixels than it holds.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faultkit_attack import cataloged, fault
from faultkit_crash import prepared_models, seed_models
from faultkit_input import index_json, one_line_error, photofind
from imagezoo import make_library
from PIL import Image

from photofind.core.errors import NotAnImage, PhotofindError
from photofind.core.search.searcher import Searcher
from photofind.core.store.datadir import DataDir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_DATA and /proc are Linux's")

MEMORY = 3 << 30


def limited(max_bytes: int = MEMORY):
    """A preexec_fn: the child's data memory (heap and private mappings) is capped."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))
    return apply


def run_limited(data: Path, *args, timeout: float = 240, max_bytes: int = MEMORY):
    return photofind(data, *args, preexec_fn=limited(max_bytes), timeout=timeout)


@pytest.fixture
def library(tmp_path, tiny_model, tmp_path_factory):
    """A small indexed library whose data directory has the model's exports."""
    root = tmp_path / "Pictures"
    make_library(root, count=4)
    data = tmp_path / "data"
    seed_models(data, prepared_models(tmp_path_factory, tiny_model))
    index_json(photofind(data, "index", root, "--model", tiny_model, "--json"))
    return root, data


def _python(code: str, *args, max_bytes: int = 512 << 20, timeout: float = 120):
    """A small Python child (Pillow, no torch) under a data-memory cap."""
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limited(max_bytes))


def test_a_sliver_image_costs_no_more_than_the_models_input(library, tmp_path,
                                                           record_property):
    """A 1×1,000,000 PNG (4 KB): the model's resize of its short side to 64 px would make it
    64×64,000,000 pixels (16 GB); its middle is all the model's centre crop sees."""
    fault(record_property, 6)
    root, data = library
    sliver = root / "sliver.png"
    Image.new("RGB", (1, 1_000_000), (200, 40, 40)).save(sliver)
    report = index_json(run_limited(data, "index", "--json"))
    assert report["failed"] == [] and report["added"] == 1, report
    assert str(sliver) in cataloged(data)

    query = tmp_path / "query.png"  # outside the library: decoded for the search itself
    query.write_bytes(sliver.read_bytes())
    done = run_limited(data, "similar", query, "--limit", 1, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["path"] == str(sliver)


def test_a_fifo_or_a_device_is_refused_at_once(library, tmp_path, record_property):
    fault(record_property, 7)
    root, data = library
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        started = time.monotonic()
        done = run_limited(data, "similar", path, timeout=120)
        line = one_line_error(done.stderr)
        assert done.returncode == 1 and ("pipe" in line or "device" in line), line
        assert time.monotonic() - started < 60

    # what a drop or a paste on the window hands to the searcher (the GUI's path in)
    searcher = Searcher(DataDir(data), device="cpu")
    outcome: list[BaseException] = []

    def search() -> None:
        try:
            searcher.search_images([str(fifo)])
        except BaseException as exc:
            outcome.append(exc)
    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    thread.join(60)
    try:
        if thread.is_alive():  # unblock the reader the test left hanging
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        assert not thread.is_alive(), "searching with a FIFO hangs"
        assert len(outcome) == 1 and isinstance(outcome[0], PhotofindError), outcome
        assert "pipe" in str(outcome[0])
    finally:
        searcher.close()


def test_limit_is_clamped_or_refused_in_one_line(library, record_property):
    fault(record_property, 8)
    _root, data = library
    photos = len(cataloged(data))
    for nonsense in ("1e23", "-5", "ten"):  # not a count: a usage error, in one line
        done = run_limited(data, "search", "red", "--limit", nonsense)
        assert done.returncode == 2, (nonsense, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr and "--limit" in done.stderr
    for huge in ("1000000000", "100000000000000000000000", "100000"):
        # more than any library: clamped to the library (all its photos), or refused as a
        # usage error in one line; never a traceback, never gigabytes
        done = run_limited(data, "search", "red", "--limit", huge, "--json")
        assert "Traceback" not in done.stderr, done.stderr
        if done.returncode == 2:  # argparse's usage, then one error line
            errors = [x for x in done.stderr.splitlines() if "error:" in x]
            assert len(errors) == 1 and "--limit" in errors[0], done.stderr
        else:
            assert done.returncode == 0, done.stderr
            assert len(json.loads(done.stdout)["results"]) == photos

    # the library's own API (the GUI's searcher) clamps too
    code = ("import sys, json; from photofind.core.store.datadir import DataDir; "
            "from photofind.core.search.searcher import Searcher; "
            "from pathlib import Path; s = Searcher(DataDir(Path(sys.argv[1])), device='cpu'); "
            "print(len(s.search_text('red', 10**12)))")
    child = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True,
                           text=True, timeout=240, preexec_fn=limited())
    assert child.returncode == 0, child.stderr
    assert int(child.stdout) == photos


def _sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


READ = """
import sys, time
from photofind.core.media.decode import read_file
from photofind.core.errors import NotAnImage
def rchar():
    return int(next(l for l in open('/proc/self/io') if l.startswith('rchar')).split()[1])
before, t = rchar(), time.monotonic()
try:
    read_file(sys.argv[1])
    print('read', rchar() - before, time.monotonic() - t)
except NotAnImage as exc:
    print('refused', rchar() - before, time.monotonic() - t, exc)
"""


def test_a_huge_file_is_judged_by_its_first_bytes(library, tmp_path, record_property):
    """A 2 GB sparse file named .jpg: refused after its first bytes, not after reading
    2 GB (12.8 s and 2.1 GB before); a 2 GB one that starts like a JPEG: refused by its
    size, unread."""
    fault(record_property, 9)
    root, data = library
    zeros = _sparse(root / "not-a-photo.jpg", 2 << 30)
    jpeg_head = _sparse(root / "huge.jpg", 2 << 30, head=b"\xff\xd8\xff\xe0" + bytes(60))
    for path, word in ((zeros, "not a recognised image"), (jpeg_head, "too large")):
        child = _python(READ, path)
        assert child.returncode == 0, child.stderr  # no MemoryError, no traceback
        outcome, read, seconds, *reason = child.stdout.split(maxsplit=3)
        assert outcome == "refused" and word in reason[0], child.stdout
        assert int(read) < 1 << 20 and float(seconds) < 5, child.stdout
    report = index_json(run_limited(data, "index", "--json"))
    reasons = {f["path"]: f["reason"] for f in report["failed"]}
    assert "not a recognised image" in reasons[str(zeros)]
    assert "too large" in reasons[str(jpeg_head)]


def test_an_image_claiming_more_pixels_than_memory_allows_is_refused(library, tmp_path,
                                                                    record_property):
    """A 38-byte lossless WebP of 8192×8192 (67 MP: ~1.1 GB to decode through libwebp;
    the issue's 7 KB one claimed 192 MP and took 3 GB) is refused before decoding, and the
    decoder processes run under a memory limit in case an estimate is wrong."""
    fault(record_property, 9)
    root, data = library
    bomb = root / "claims-67mp.webp"
    made = _python("import sys; from PIL import Image; Image.new('RGB', (8192, 8192), "
                   "(9, 90, 9)).save(sys.argv[1], 'WEBP', lossless=True, method=0)", bomb,
                   max_bytes=2 << 30)
    assert made.returncode == 0 and bomb.stat().st_size < 10_000, made.stderr
    started = time.monotonic()
    report = index_json(run_limited(data, "index", "--json"))
    reasons = {f["path"]: f["reason"] for f in report["failed"]}
    assert "too large to decode safely" in reasons.get(str(bomb), ""), report
    assert time.monotonic() - started < 120

    from photofind.core.ingest.decodepool import DecoderPool

    pool = DecoderPool()
    try:
        pool.prestart(1)
        (worker,) = pool._idle
        deadline = time.monotonic() + 30
        limit = None
        while time.monotonic() < deadline and limit in (None, "unlimited"):
            time.sleep(0.2)
            row = next(x for x in Path(f"/proc/{worker.process.pid}/limits").read_text()
                       .splitlines() if x.startswith("Max data size"))
            limit = row.split()[3]
        assert limit != "unlimited" and int(limit) < 4 << 30, row
        with pytest.raises(NotAnImage, match="too large"):
            pool.decode_file(str(bomb), 224, lambda _h, _s: True, ask=False)
    finally:
        pool.close()
