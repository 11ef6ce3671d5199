"""A file that crashes or hangs the image decoder costs that file, never photofind.

Decoding runs in worker processes (photofind/core/ingest/decodepool.py). To have a decoder that
really dies, the test-only variable PHOTOFIND_TEST_DECODER_FAULTS=1 makes a worker abort
(SIGABRT, as a segfaulting libjpeg would kill it) on files named `*__crash__*` and sleep
for ever on `*__hang__*`. The files themselves are ordinary JPEGs.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from conftest import outside_copy
from faultkit_input import TORCH, check_data_dir, failure_stamps, failures
from imagezoo import make_library, picture, save

TIMEOUT_S = 3


def _decoder_children() -> list:
    return [p for p in multiprocessing.active_children() if p.name == "photofind-decoder"]


def test_crash_and_hang_fail_alone_and_are_not_retried(cli, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("PHOTOFIND_TEST_DECODER_FAULTS", "1")
    monkeypatch.setenv("PHOTOFIND_DECODE_TIMEOUT_S", str(TIMEOUT_S))
    root = tmp_path / "Pictures"
    good = make_library(root, count=4)
    crash = save(picture(501), root / "odd" / "camera__crash__.jpg", quality=90)
    hang = save(picture(502), root / "odd" / "scan__hang__.jpg", quality=90)

    started = time.monotonic()
    report = cli.json("index", root, "--model", tiny_model, *TORCH)
    assert time.monotonic() - started < 120
    assert report["added"] == len(good)  # everything else is indexed, in this same run
    reasons = {f["path"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == {str(crash), str(hang)}
    assert reasons[str(crash)].startswith("the image decoder crashed on this file")
    assert "SIGABRT" in reasons[str(crash)]
    assert reasons[str(hang)].startswith(f"decoding took longer than {TIMEOUT_S} s")
    assert failures(cli.data_dir) == reasons  # recorded once each, with the same reasons
    assert check_data_dir(cli.data_dir)["photos"] == len(good)
    assert cli.json("status")["failed"] == 2
    assert _decoder_children() == []  # no decoder left behind, hung or not

    # not retried while unchanged: no decode, no waiting for the timeout again
    stamps = failure_stamps(cli.data_dir)
    started = time.monotonic()
    again = cli.json("index", root, *TORCH)
    assert time.monotonic() - started < TIMEOUT_S
    assert {f["path"] for f in again["failed"]} == {str(crash), str(hang)}
    assert again["embedded"] == 0 and failure_stamps(cli.data_dir) == stamps

    # a changed file is tried again; renamed to an ordinary name it indexes
    save(picture(503), crash, quality=80)
    third = cli.json("index", root, *TORCH)
    assert [f["path"] for f in third["failed"]] == [str(crash), str(hang)]
    assert failure_stamps(cli.data_dir)[str(crash)] != stamps[str(crash)]
    fine = crash.with_name("camera.jpg")
    os.rename(crash, fine)
    fourth = cli.json("index", root, *TORCH)
    assert fourth["added"] == 1 and [f["path"] for f in fourth["failed"]] == [str(hang)]
    hit = cli.json("similar", outside_copy(fine), "--limit", 1)["results"][0]
    assert hit["path"] == str(fine) and hit["score"] >= 0.99
    assert set(failures(cli.data_dir)) == {str(hang)}


def test_watch_keeps_going_past_a_crashing_file(tmp_path, tiny_model, data_dir, monkeypatch):
    from watching import wait_for

    from photofind.core.ingest.worker import LibraryWorker
    from photofind.core.store.datadir import DataDir

    monkeypatch.setenv("PHOTOFIND_TEST_DECODER_FAULTS", "1")
    root = tmp_path / "Pictures"
    make_library(root, count=1)
    from watching import index_library

    index_library(data_dir, root, tiny_model)
    errors, bursts = [], []
    worker = LibraryWorker(DataDir(data_dir), device="cpu", on_error=errors.append,
                           on_burst=bursts.append, poll_roots_s=0.2, retry_incomplete_s=0.5)
    worker.start()
    try:
        assert worker.wait_ready(60)
        wait_for(lambda: bursts, timeout=60, what="the startup reconciliation")
        crash = save(picture(601), root / "new" / "party__crash__.jpg", quality=90)
        wait_for(lambda: str(crash) in failures(data_dir), timeout=90,
                 what="the crashing file to be recorded as failed")
        after = save(picture(602), root / "new" / "after.jpg", quality=90)
        wait_for(lambda: str(after) in check_data_dir(data_dir)["paths"], timeout=90,
                 what="a photo added after the crash to be indexed")
        assert worker.state != "stopped" and errors == []
        assert "crashed" in failures(data_dir)[str(crash)]
    finally:
        assert worker.stop(timeout=30)
    assert _decoder_children() == []


def test_decoder_processes_never_load_torch(tmp_path):
    """The workers are small: Pillow and photofind.core.media.decode, no torch, no model."""
    from photofind.core.ingest.decodepool import DecoderPool

    pool = DecoderPool(timeout_s=60)
    try:
        data = save(picture(1, (640, 480)), tmp_path / "a.jpg", quality=90).read_bytes()
        decoded = pool.decode(data, 64, "a.jpg")
        assert decoded.image.mode == "RGB" and (decoded.width, decoded.height) == (640, 480)
        (worker,) = _decoder_children()
        maps = Path(f"/proc/{worker.pid}/maps").read_text()
        assert "torch" not in maps and "onnxruntime" not in maps and "usearch" not in maps
    finally:
        pool.close()
    assert _decoder_children() == []


def test_stopping_while_a_file_hangs_is_prompt_and_records_nothing(tmp_path, tiny_model,
                                                                   data_dir, monkeypatch):
    """Cancel (the GUI's button, Ctrl-C in watch) while the decoder hangs on a file: the
    run stops within seconds, not after the 60 s timeout, and the file is not marked as
    failed (it was never given its chance)."""
    import threading

    from photofind.core.ingest.writer import Writer
    from photofind.core.model.specs import ModelSpec
    from photofind.core.store.datadir import DataDir

    monkeypatch.setenv("PHOTOFIND_TEST_DECODER_FAULTS", "1")
    root = tmp_path / "Pictures"
    save(picture(700), root / "a__hang__.jpg", quality=90)
    make_library(root, count=2)
    with Writer(DataDir(data_dir), "index") as writer:
        writer.add_roots([str(root)])
        writer.load_model(ModelSpec.parse(tiny_model), backend="torch")
        stop = threading.Event()
        timer = threading.Timer(3.0, stop.set)
        timer.start()
        started = time.monotonic()
        report = writer.index(should_stop=stop.is_set, workers=2)
        elapsed = time.monotonic() - started
        timer.cancel()
    assert report.stopped and elapsed < 30, elapsed
    assert str(root / "a__hang__.jpg") not in failures(data_dir)
    assert _decoder_children() == []
