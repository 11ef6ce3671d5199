"""`photofind library list | remove FOLDER`: the library folders on the command line, as
the desktop app's Library dialog shows them. Removing a folder forgets it and its photos;
the files themselves are never touched."""

from __future__ import annotations

import argparse
import json
import os
import sys

from photofind.core.errors import PhotofindError
from photofind.hints import pasteable
from photofind.terminal import shown


def add_library_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("library", parents=[common],
                       help="the library folders: list them, or remove one")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("list", parents=[common],
                           help="each folder with its photo count, and whether it is online")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q = actions.add_parser("remove", parents=[common],
                           help="forget a folder and its photos (the files are not touched)")
    q.add_argument("folder", metavar="FOLDER")
    q.add_argument("--json", action="store_true", help="print one JSON document")


def cmd_library(args: argparse.Namespace, data) -> int:
    from photofind.core.search.status import folders

    rows = folders(data)
    if args.action == "list":
        if args.json:
            _emit({"roots": rows})
            return 0
        if not rows:
            print(pasteable("No library folders yet: run 'photofind index FOLDER' to add one."))
        for row in rows:
            offline = "" if row["online"] else "  (offline: its photos are kept)"
            print(f"{row['photos']:>9,} photos  {shown(row['path'])}{offline}")
        return 0
    root = _root_named(args.folder, [row["path"] for row in rows])
    from photofind.core.ingest.commands import RemoveRoot
    from photofind.core.ingest.session import WriteSession

    with WriteSession(data, "library") as session:
        removed = session.run(RemoveRoot(root))
    if args.json:
        _emit({"removed": root, "photos": removed})
    else:
        print(f"Removed {shown(root)} from the library: its {removed:,} photo"
              f"{'s' if removed != 1 else ''} left photofind's index. The files themselves "
              "are not touched.")
    return 0


def _root_named(folder: str, roots: list[str]) -> str:
    """The library root `folder` names: as given, absolute or real (an offline root's
    path no longer exists, so it is matched as written too)."""
    expanded = os.path.expanduser(folder)
    for candidate in (os.path.realpath(expanded), os.path.abspath(expanded),
                      expanded.rstrip(os.sep) or os.sep):
        if candidate in roots:
            return candidate
    if not roots:
        raise PhotofindError(pasteable(
            f"{folder} is not a library folder: the library has none yet "
            "('photofind index FOLDER' adds one)"))
    raise PhotofindError(pasteable(
        f"{folder} is not a library folder; 'photofind library list' shows them"))


def _emit(document: dict) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
