"""One write path: only the write path's own modules open the library for writing.

Every write to the catalog and the vector index goes through `core/ingest` (the library
worker, or a one-shot `WriteSession` for `index`, `demo`, `library remove` and the app's
setup steps). Anywhere else in photofind, constructing a `Writer` or a `WriterLock`,
opening the catalog or the vector index for writing, or saving the vector index is a
second writer, and this test names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "photofind"

# The write path, and the store modules that define what it calls.
WRITE_PATH = {
    "core/ingest/writer.py",  # Writer: the lock, the writable catalog and index
    "core/ingest/session.py",  # one-shot writes with typed commands
    "core/ingest/worker.py",  # the library worker: live updates
    "core/ingest/writetrouble.py",  # opens the worker's Writer, waiting out a full disk
    "core/ingest/indexer.py",  # the indexer the Writer and the worker run; saves the index
    "core/store/catalog.py",
    "core/store/vectorindex.py",
    "core/store/lock.py",
}
WRITER_NAMES = {"Writer", "WriterLock"}
WRITER_CALLS = {"open_for_writing"}


def writes_outside(source: str, name: str) -> list[str]:
    """What in `source` opens the library for writing: a Writer or WriterLock imported or
    constructed, `open_for_writing` called, or a vector index saved."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.ImportFrom):
            found += [f"{name}:{node.lineno}: imports {a.name}" for a in node.names
                      if a.name in WRITER_NAMES]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if called in WRITER_NAMES | WRITER_CALLS:
                found.append(f"{name}:{node.lineno}: calls {called}")
            elif called == "save" and isinstance(func, ast.Attribute):
                receiver = func.value
                owner = receiver.attr if isinstance(receiver, ast.Attribute) else \
                    receiver.id if isinstance(receiver, ast.Name) else ""
                if "vectors" in owner.lower() or "vectorindex" in owner.lower():
                    found.append(f"{name}:{node.lineno}: saves the vector index")
    return found


def test_only_the_write_path_opens_the_library_for_writing():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in WRITE_PATH:
            offenders += writes_outside(path.read_text(), name)
    assert offenders == []


def test_the_check_sees_a_second_writer():
    """The check above can fail: each way of writing around the write path is caught."""
    samples = {
        "from photofind.core.ingest.writer import Writer\n": "imports Writer",
        "w = Writer(data, 'gui')\n": "calls Writer",
        "lock = locking.WriterLock(path, 'x')\n": "calls WriterLock",
        "c = Catalog.open_for_writing(p, None)\n": "calls open_for_writing",
        "writer.vectors.save(catalog)\n": "saves the vector index",
        "vectors.save(catalog)\n": "saves the vector index",
    }
    for source, what in samples.items():
        found = writes_outside(source, "gui/sample.py")
        assert len(found) == 1 and found[0].endswith(what), (source, found)
    # reading, and saving things that are not the index, are fine
    assert writes_outside("c = Catalog.open_for_reading(p)\nimage.save(buf)\n"
                          "painter.save()\n", "gui/sample.py") == []


def test_the_faces_drive_the_write_path_with_typed_commands():
    """`index`, `demo`, `library remove` and the app's setup steps send commands to a
    WriteSession; the worker takes them too (no string-named commands)."""
    from photofind.core.ingest import commands, session, worker

    for face in ("cli.py", "cli_library.py", "gui/index_worker.py"):
        text = (PACKAGE / face).read_text()
        assert "WriteSession(" in text, face
    assert set(session.WriteSession._HANDLERS) == {
        commands.AddRoots, commands.RemoveRoot, commands.Rescan, commands.SetModel,
        commands.WriteDemo, commands.IndexPaths}
    assert set(worker.LibraryWorker._HANDLERS) == {
        commands.AddRoots, commands.RemoveRoot, commands.Rescan}
    assert "getattr(self, f\"_do_" not in (PACKAGE / "core/ingest/worker.py").read_text()


def test_the_demo_is_refused_where_your_photos_are_indexed(cli, tmp_path, tiny_model):
    """The demo/model policy, now written once in core/ingest/session.py: `photofind demo`
    in a data directory that indexes a person's photos with another model says why in one
    line, exits 1, and writes nothing (no demo folder, the library unchanged)."""
    from PIL import Image

    root = tmp_path / "Pictures"
    root.mkdir()
    for i, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (64, 48), colour).save(root / f"photo{i}.jpg")
    cli("index", root, "--model", tiny_model)
    before = cli.json("status")

    cli("demo", "--count", 4, expect=1)
    assert "data directory of its own" in cli.err and "photofind --data-dir" in cli.err
    assert len(cli.err.strip().splitlines()) == 1
    assert not (cli.data_dir / "demo-library").exists()
    after = cli.json("status")
    assert (after["roots"], after["photos"], after["model"]) == \
        (before["roots"], before["photos"], before["model"])
