"""`photofind duplicates [--kind exact|near|burst] [--in FOLDER] [--json]`: groups of
copies in the library, each with the one proposed to keep and why. The command only
reads: it never moves, changes or deletes a photo (the desktop app's duplicates view
moves the copies a person picks to the Trash, after asking)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from photofind.terminal import shown


def add_duplicates_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("duplicates", parents=[common],
                       help="groups of copies of the same photo (nothing is moved or deleted)")
    p.add_argument("--kind", choices=["exact", "near", "burst"], action="append",
                   help="exact: identical files; near: the same picture re-encoded, resized, "
                        "converted, turned or lightly cropped; burst: shots taken seconds "
                        "apart that look alike (default: exact and near)")
    p.add_argument("--in", dest="within", metavar="FOLDER",
                   help="only groups with a photo in this folder")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def cmd_duplicates(args: argparse.Namespace, data) -> int:
    from photofind.core.duplicates.library import find_in_library, folder_arg

    kinds = tuple(args.kind) if args.kind else ("exact", "near")
    within = folder_arg(args.within) if args.within else None
    progress = _Progress()
    found = find_in_library(data, kinds, within, progress=progress, notify=_note)
    progress.done()
    if args.json:
        json.dump(found.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not found.groups:
        print("No duplicates found.")
        return 0
    for g in found.groups:
        print(f"{g.kind}: {len(g.photos)} photos; keep {shown(g.keep)}")
        print(f"  why: {g.why}")
        for m in g.others:
            date = (m.taken or m.date or "")[:16].replace("T", " ")
            print(f"  copy {shown(m.path)}  {m.width}×{m.height} {m.format} "
                  f"{_size(m.bytes)} {date}")
    spare = sum(m.bytes for g in found.groups for m in g.others)
    print(f"{len(found.groups)} group(s); {sum(len(g.others) for g in found.groups)} copies "
          f"take {_size(spare)}. photofind moved nothing: review them in the desktop app "
          "(≡ → Duplicates…) to move copies to the Trash.")
    return 0


class _Progress:
    """`photofind: comparing photos 40%` on a terminal, redrawn at most every 0.2 s."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < 0.2:
            return
        self.last = now
        self.shown = True
        sys.stderr.write(f"\rphotofind: comparing photos {done * 100 // max(total, 1)}%"
                         f" ({done:,} of {total:,})\033[K")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")


def _note(message: str) -> None:
    print(f"photofind: {message}", file=sys.stderr)


def _size(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.0f} KB"

