"""The command line: `photofind index | search | similar | status | watch | demo | gui |
install-desktop`.

Results and summaries go to stdout (exactly one JSON document with --json); progress and
notes go to stderr. Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence

from photofind import __version__
from photofind.cli_duplicates import add_duplicates_parser, cmd_duplicates
from photofind.cli_library import add_library_parser, cmd_library
from photofind.cli_search import add_search_parsers, cmd_search, cmd_similar, positive
from photofind.core.errors import PhotofindError
from photofind.core.store import datadir
from photofind.hints import pasteable, use_data_dir
from photofind.terminal import shown


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="where photofind keeps its index (default: $PHOTOFIND_DATA_DIR, "
                             "else the platform's data folder)")
    parser = argparse.ArgumentParser(
        prog="photofind", parents=[common],
        description="Find photos in your own folders by what they show. Offline and private.",
    )
    parser.add_argument("--version", action="version", version=f"photofind {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("index", parents=[common], help="add folders and bring the index up to date")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="library folders (remembered); none: update all remembered folders")
    p.add_argument("--model", metavar="SPEC",
                   help="open_clip model: NAME (with --pretrained), hf-hub:ORG/REPO, "
                        "local-dir:/folder, or 'demo'")
    p.add_argument("--pretrained", metavar="TAG", help="pretrained weights tag for --model NAME")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="image tower on the CPU: onnx (ONNX Runtime, exported once from the "
                        "model; the default where installed) or torch (the reference)")
    p.add_argument("--precision", choices=["int8", "fp32"], default="int8",
                   help="onnx backend precision (default int8: ~2× faster, cosine ≥ 0.99)")
    p.add_argument("--batch-size", type=positive, default=32, metavar="N")
    p.add_argument("--workers", type=positive, default=None, metavar="N",
                   help="decode threads (default: one per CPU core)")
    p.add_argument("--json", action="store_true", help="print one JSON document")

    add_search_parsers(sub, common)

    p = sub.add_parser("demo", parents=[common],
                       help="index a demo library with the shipped demo model (offline)")
    p.add_argument("--count", type=positive, default=300, metavar="N",
                   help="how many demo scenes to write (default 300)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gui", parents=[common], help="open the desktop app")
    p.add_argument("image", nargs="?", metavar="IMAGE",
                   help="start by finding photos similar to this image")

    p = sub.add_parser("install-desktop", parents=[common],
                       help="add photofind to your desktop's application menu (Linux)")
    p.add_argument("--remove", action="store_true", help="take it out of the menu again")

    add_library_parser(sub, common)
    add_duplicates_parser(sub, common)

    p = sub.add_parser("status", parents=[common], help="what is indexed, and where")
    p.add_argument("--failed", action="store_true", help="list the files that could not be read")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("watch", parents=[common],
                       help="keep the index current while photos change, until Ctrl-C")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--batch-size", type=positive, default=32, metavar="N")
    p.add_argument("--workers", type=positive, default=None, metavar="N",
                   help="decode threads (default: one per CPU core)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data = datadir.resolve(getattr(args, "data_dir", None))
    use_data_dir(data.root)  # hints in messages name it, so they work when pasted
    try:
        datadir.check_usable(data.root)
        return COMMANDS[args.command](args, data)
    except PhotofindError as exc:
        print(f"photofind: error: {shown(pasteable(str(exc)))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photofind: interrupted; everything indexed so far is kept", file=sys.stderr)
        return 130
    except sqlite3.DatabaseError as exc:  # found while working, not when opening
        from photofind.core.errors import disk_full, write_failure
        from photofind.core.store.catalog import damaged, is_corrupt, is_locked, locked

        if is_corrupt(exc):
            problem = damaged(data.catalog, exc)
        elif write_failure(exc):  # a full or read-only data disk
            problem = disk_full(data.root, exc)
        elif is_locked(exc):  # another program held the catalog for the whole busy timeout
            problem = locked(data.catalog)
        else:
            raise
        print(f"photofind: error: {shown(pasteable(str(problem)))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `photofind search … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the system refused something: say what, in one line
        where = f" ({shown(exc.filename)})" if exc.filename else ""
        print(f"photofind: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


def note(message: str) -> None:
    print(f"photofind: {shown(pasteable(message))}", file=sys.stderr)


def emit_json(document: dict) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# --- commands ------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace, data: datadir.DataDir) -> int:
    from photofind.core.ingest.commands import AddRoots, IndexPaths, SetModel
    from photofind.core.ingest.session import DEMO_MODEL_NOTE, WriteSession
    from photofind.core.model.specs import ModelSpec
    from photofind.progress import TerminalProgress

    if args.pretrained and not args.model:
        raise PhotofindError("--pretrained needs --model NAME as well")
    spec = ModelSpec.parse(args.model, args.pretrained) if args.model else None
    with WriteSession(data, "index", notify=note) as session:
        roots = session.run(AddRoots(tuple(args.paths))) if args.paths else session.roots()
        if not roots:
            raise PhotofindError("no library folders yet: run 'photofind index FOLDER'")
        if session.demo_model_misused(roots, spec):
            note(DEMO_MODEL_NOTE)
        session.run(SetModel(spec, device=args.device, backend=args.backend,
                             precision=args.precision, lazy=True))
        with TerminalProgress() as progress:
            session.on_progress = progress.update
            report = session.run(IndexPaths(tuple(roots), workers=args.workers,
                                            batch_size=args.batch_size))
    for root in report.missing_roots:
        note(f"library folder {root} is offline (missing, empty or its drive unmounted); "
             "its photos are kept")
    if report.unreachable:
        note(f"{report.unreachable} photo(s) in folders that could not be read are kept as "
             "they were; make the folders readable to bring them up to date")
    if args.json:
        emit_json(report.to_json())
    else:
        print_index_summary(report)
    return 0


def print_index_summary(report) -> None:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.moved} moved",
             f"{report.removed} removed", f"{report.unchanged} unchanged"]
    rate = report.embedded / report.seconds if report.seconds > 0 else 0.0
    print(f"Indexed in {report.seconds:.1f} s: {', '.join(parts)}; "
          f"{report.embedded} embedded ({rate:.1f} photos/s).")
    if report.failed:
        print(f"{len(report.failed)} file(s) could not be indexed:")
        for failure in report.failed[:10]:
            print(f"  {shown(failure['path'])}: {shown(failure['reason'])}")
        if len(report.failed) > 10:
            print(pasteable("  … 'photofind status --failed' lists them all"))


def cmd_status(args: argparse.Namespace, data: datadir.DataDir) -> int:
    from photofind.core.search.status import status
    from photofind.core.store.catalog import Catalog

    info = status(data)
    if args.failed:
        catalog = Catalog.open_for_reading(data.catalog)
        failures = catalog.failures() if catalog else []
        info["failures"] = [{"path": p, "reason": r} for p, r in failures]
    if args.json:
        emit_json(info)
        return 0
    print(f"Data directory: {info['data_dir']}")
    print(f"Model:          {info['model'] or '(none yet)'}")
    print(f"Photos:         {info['photos']}" + (" (indexing now)" if info["indexing"] else ""))
    print(f"Failed files:   {info['failed']}")
    print("Library folders:")
    for root in info["roots"] or [pasteable("(none yet: run 'photofind index FOLDER')")]:
        offline = "  [offline]" if root in info["offline_roots"] else ""
        print(f"  {shown(root)}{offline}")
    for failure in info.get("failures", []):
        print(f"  failed: {shown(failure['path'])}: {shown(failure['reason'])}")
    return 0


DEMO_QUERIES = ("red circle", "large yellow star", "white triangle on a black background",
                "orange circle and blue square")


def cmd_demo(args: argparse.Namespace, data: datadir.DataDir) -> int:
    from photofind.core.ingest.commands import IndexPaths, WriteDemo
    from photofind.core.ingest.session import WriteSession, demo_folder
    from photofind.core.search.searcher import Searcher
    from photofind.progress import TerminalProgress

    with WriteSession(data, "demo", notify=note, face="demo") as session:
        problem = session.demo_conflict()
        if problem is not None:
            raise problem
        folder = demo_folder(data)
        note(f"writing {args.count} demo scenes to {folder}")
        roots = session.run(WriteDemo(args.count, device="cpu"))
        with TerminalProgress() as progress:
            session.on_progress = progress.update
            report = session.run(IndexPaths(tuple(roots)))
    searcher = Searcher(data, device="cpu")
    try:
        examples = {q: searcher.search_text(q, 5) for q in DEMO_QUERIES}
    finally:
        searcher.close()
    if args.json:
        emit_json({"library": str(folder), "index": report.to_json(),
                   "examples": [{"query": q, "results": [r.to_json() for r in rs]}
                                for q, rs in examples.items()]})
        return 0
    print_index_summary(report)
    print(f"Demo library: {folder}")
    for query, results in examples.items():
        print(pasteable(f'\nphotofind search "{query}"'))
        for r in results:
            print(f"  {r.score:6.3f}  {os.path.basename(r.path)}")
    print(pasteable('\nNow try your own: photofind search "green circle and blue star"'))
    print(pasteable("or open the desktop app: photofind gui"))
    return 0


def cmd_watch(args: argparse.Namespace, data: datadir.DataDir) -> int:
    import signal

    from photofind.core.ingest.worker import LibraryWorker
    from photofind.core.store.catalog import Catalog

    catalog = Catalog.open_for_reading(data.catalog)
    roots = catalog.roots() if catalog else []
    if catalog:
        catalog.close()
    if not roots:
        raise PhotofindError("no library folders yet: run 'photofind index FOLDER' first")
    worker = LibraryWorker(data, device=args.device, workers=args.workers,
                           batch_size=args.batch_size, on_burst=print_burst, on_note=note,
                           on_error=lambda message: note(f"error: {message}"))

    signalled = []

    def request_stop(signum, _frame) -> None:
        signalled.append(signum)
        worker.stop(timeout=0)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.start()
        while not worker.wait_ready(0.2):
            pass
        if worker.is_alive():
            note(f"watching {', '.join(worker.roots)} for changes; press Ctrl-C to stop")
        while worker.is_alive():
            worker.join(0.05)
    finally:
        worker.stop(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if worker.failure is not None:
        from photofind.core.store.catalog import is_corrupt

        if isinstance(worker.failure, PhotofindError) or is_corrupt(worker.failure):
            raise worker.failure  # a damaged catalog: main() says what to do
        raise PhotofindError(f"watching stopped: {type(worker.failure).__name__}: "
                             f"{worker.failure}")
    note("stopped; everything indexed so far is kept")
    if signalled:
        # Everything is saved and closed and the lock is released. Tearing down torch and
        # friends takes another second or two on a busy laptop; a person who pressed
        # Ctrl-C (or a service manager that sent SIGTERM) should get the prompt back now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def print_burst(burst) -> None:
    """One line on stderr per burst of changes that changed something."""
    import time

    r = burst.report
    if not r.changes and burst.reason == "changes":
        return
    parts = [f"{n} {word}" for n, word in ((r.added, "added"), (r.updated, "updated"),
                                           (r.moved, "moved"), (r.removed, "removed")) if n]
    if burst.reason != "changes":
        parts.append(f"{r.unchanged} unchanged")
    line = ", ".join(parts) or "nothing new"
    if r.failed:
        line += f"; {len(r.failed)} could not be indexed ('photofind status --failed' lists them)"
    prefix = {"startup": "caught up: ", "folder back": "caught up with a folder that came back: ",
              "rescan": "rescanned: "}.get(burst.reason, "")
    note(f"{time.strftime('%H:%M:%S')} {prefix}{line} ({r.embedded} embedded, {r.seconds:.1f} s)")


def cmd_gui(args: argparse.Namespace, data: datadir.DataDir) -> int:
    # a missing IMAGE is said in the window: opened from a file manager, stderr is unseen
    try:
        from photofind.gui.app import run
    except ImportError as exc:
        raise PhotofindError(f"the desktop app needs PySide6 ({exc}); "
                             "install it with: pip install PySide6-Essentials") from None
    return run(data, args.image)


def cmd_install_desktop(args: argparse.Namespace, data: datadir.DataDir) -> int:
    from photofind import desktop

    if not desktop.supported():
        raise PhotofindError("install-desktop is for Linux desktops; on Windows and macOS "
                             "install the app bundle (see packaging/README.md)")
    if args.remove:
        files = desktop.remove(note=note)
        print(f"Removed {len(files)} file(s)" + (":" if files else "; nothing was installed."))
    else:
        files = desktop.install(note=note)
        print(f"Installed photofind in your application menu ({len(files)} files):")
    for path in files:
        print(f"  {path}")
    return 0


COMMANDS = {
    "index": cmd_index,
    "search": cmd_search,
    "similar": cmd_similar,
    "status": cmd_status,
    "watch": cmd_watch,
    "demo": cmd_demo,
    "gui": cmd_gui,
    "install-desktop": cmd_install_desktop,
    "library": cmd_library,
    "duplicates": cmd_duplicates,
}
