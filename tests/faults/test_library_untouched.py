"""photofind never writes to a library: after index, watch, search, similar and status —
also with bad files, a file that crashes the decoder and photos renamed while watching —
every file and folder is byte-identical, with the same mtime and mode, and nothing was
created, moved or deleted. A second copy of the library is read-only twice over (chmod
a-w, and a read-only bind mount where mounting is permitted), as a camera card or a
network share often is: it indexes all the same."""

from __future__ import annotations

import os
import shutil
import stat

from faultkit_input import TORCH, check_data_dir, read_only_bind, tree_state
from imagezoo import make_bad_files, make_library, picture, save
from watching import wait_for

from photofind.core.ingest.worker import LibraryWorker
from photofind.core.store.datadir import DataDir


def _chmod_read_only(root) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)
    os.chmod(root, stat.S_IMODE(os.stat(root).st_mode) & ~0o222)


def test_library_is_never_touched(cli, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("PHOTOFIND_TEST_DECODER_FAULTS", "1")
    root = tmp_path / "Pictures"
    files = make_library(root, count=2)
    make_bad_files(root / "bad")
    save(picture(7), root / "odd" / "boom__crash__.jpg", quality=90)
    (root / ".hidden").mkdir()
    save(picture(8), root / ".hidden" / "secret.jpg", quality=90)
    (root / "link-out").symlink_to(tmp_path)
    copy_src = tmp_path / "card-src"
    shutil.copytree(root, copy_src, symlinks=True)
    _chmod_read_only(copy_src)
    card = tmp_path / "card"
    with read_only_bind(copy_src, card) as mounted:
        if not mounted:
            card = copy_src
        before, card_before = tree_state(root), tree_state(card)

        report = cli.json("index", root, card, "--model", tiny_model, *TORCH)
        assert report["added"] == 2 * len(files)
        assert any("crashed" in f["reason"] for f in report["failed"])
        cli.json("index", *TORCH)
        cli.json("search", "a red sled", "--limit", 5)
        cli.json("similar", files["jpeg"], "--limit", 5)
        cli.json("similar", card / "2023" / "beach.jpg", "--limit", 5)
        cli.json("status")
        assert tree_state(root) == before and tree_state(card) == card_before

        # watching: the startup reconciliation, then a rename made by the person
        worker = LibraryWorker(DataDir(cli.data_dir), device="cpu", poll_roots_s=0.2)
        bursts = []
        worker.on_burst = bursts.append
        worker.start()
        try:
            assert worker.wait_ready(60)
            wait_for(lambda: bursts, timeout=60, what="the startup reconciliation")
            assert tree_state(root) == before and tree_state(card) == card_before
            os.rename(files["png"], root / "2023" / "renamed.png")
            renamed = tree_state(root)
            wait_for(lambda: str(root / "2023" / "renamed.png") in check_data_dir(cli.data_dir)[
                "paths"], timeout=60, what="the rename to be followed")
            wait_for(worker.is_idle, timeout=60)
        finally:
            assert worker.stop(timeout=30)
        assert tree_state(root) == renamed and tree_state(card) == card_before
        cli.json("index", *TORCH)
        assert tree_state(root) == renamed and tree_state(card) == card_before
    # nothing of photofind's ended up inside either library
    names = {os.path.basename(p) for p in renamed} | {os.path.basename(p) for p in card_before}
    assert not [n for n in names if n.startswith(("catalog", "vectors-", "writer.lock"))]
