"""Scoped indexer runs: only the paths the watcher named are looked at, with the same rules
as a whole-root run (moves reuse vectors, unplugged roots lose nothing)."""

from __future__ import annotations

import os
import time

import pytest
from imagezoo import make_library, picture, save

from photofind.core.ingest.indexer import plan_targets
from photofind.core.ingest.writer import Writer
from photofind.core.model.specs import ModelSpec
from photofind.core.store.datadir import DataDir


@pytest.fixture
def writer(tmp_path, tiny_model, data_dir):
    root = tmp_path / "Pictures"
    files = make_library(root, count=2)
    with Writer(DataDir(data_dir), "index") as w:
        w.add_roots([str(root)])
        w.load_model(ModelSpec.parse(tiny_model))
        assert w.index().added == len(files)
        yield w, root, files


def test_a_scoped_run_looks_only_at_its_scopes(writer):
    w, root, files = writer
    outside_scope = save(picture(300), root / "2024" / "not-in-scope.jpg")
    inside = save(picture(301), root / "phone" / "in-scope.jpg")
    files["webp"].unlink()  # gone, but not in any scope: kept for now
    report = w.index(scopes=[str(inside), str(root / "nowhere" / "x.jpg"), "/elsewhere/y.jpg"])
    assert (report.added, report.removed, report.embedded) == (1, 0, 1)
    paths = {p for (p,) in w.catalog.conn.execute("SELECT path FROM photos")}
    assert str(inside) in paths and str(outside_scope) not in paths
    assert str(files["webp"]) in paths
    # a folder scope covers everything below it
    report = w.index(scopes=[str(root / "misc"), str(root / "misc" / "sticker.webp")])
    assert report.removed == 1 and report.unchanged == 2  # the two café photos stay


def test_a_move_between_two_scopes_of_one_run_is_a_move(writer):
    w, root, files = writer
    target = root / "archive" / "beach.jpg"
    target.parent.mkdir()
    os.rename(files["jpeg"], target)
    report = w.index(scopes=[str(files["jpeg"]), str(target)])
    assert (report.moved, report.added, report.removed, report.embedded) == (1, 0, 0, 0)
    # and a move whose source half was not in this run's scopes is still a move
    again = root / "2024" / "beach-again.jpg"
    os.rename(target, again)
    report = w.index(scopes=[str(again)])
    assert (report.moved, report.added, report.embedded) == (1, 0, 0)
    assert w.catalog.photo_by_path(str(target)) is None


def test_settling_defers_fresh_and_incomplete_files(writer):
    w, root, _files = writer
    fresh = save(picture(302), root / "phone" / "fresh.jpg")
    report = w.index(scopes=[str(fresh)], settle_s=30)
    assert list(report.deferred) == [str(fresh)] and report.added == 0
    half = root / "phone" / "half.jpg"
    data = fresh.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    old = time.time() - 60
    os.utime(half, (old, old))  # settled by its age, but cannot be decoded
    report = w.index(scopes=[str(half)], settle_s=1, retry_incomplete_s=5)
    assert report.failed and not report.deferred  # old enough: a real failure
    os.utime(half, None)
    report = w.index(scopes=[str(half)], settle_s=0.0, retry_incomplete_s=5)
    assert list(report.deferred) == [str(half)] and not report.failed  # young: retried later


def test_plan_targets():
    roots = ["/a", "/b"]
    assert plan_targets(roots, None) == [("/a", "/a"), ("/b", "/b")]
    assert plan_targets(roots, ["/a/x/1.jpg", "/a/x", "/b/2.jpg", "/c/3.jpg", "/ab/4.jpg"]) == [
        ("/a", "/a/x"), ("/b", "/b/2.jpg")]
