"""`photofind search` and `photofind similar`: the query language and its options on the
command line, built into one `Query` and answered by the search engine."""

from __future__ import annotations

import argparse
import json
import os
import sys

from photofind.core.search.query import ORIENTATIONS, SORTS, TYPES, Query, QueryError, parse
from photofind.terminal import shown

_LIMIT_MAX = 100_000


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def limit(text: str) -> int:
    value = positive(text)
    if value > _LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"at most {_LIMIT_MAX:,} results at a time")
    return value


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--after", metavar="D", help="taken on or after D (2023, 2023-06 or 2023-06-15)")
    p.add_argument("--before", metavar="D", help="taken before D")
    p.add_argument("--in", dest="folders", action="append", default=[], metavar="FOLDER",
                   help="only photos in a folder of this name, or under this path (repeatable)")
    p.add_argument("--type", dest="types", action="append", default=[], metavar="T",
                   choices=sorted(k for k in TYPES if k not in ("jpg", "tif", "heif")),
                   help="only this file type (repeatable)")
    p.add_argument("--orientation", choices=ORIENTATIONS)
    p.add_argument("--like", action="append", default=[], metavar="IMAGE",
                   help="also look like this photo (repeatable)")
    p.add_argument("--sort", choices=SORTS, default=None,
                   help="relevance (default with words), newest (default without), oldest")
    p.add_argument("--good", action="store_true", help="only good matches (possibly none)")
    p.add_argument("--limit", type=limit, default=20, metavar="N")
    p.add_argument("--no-stack", dest="stack", action="store_false",
                   help="list every copy of a photo as its own result (by default copies "
                        "are stacked under the first: 'copies' in JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def add_search_parsers(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "search", parents=[common], help="find photos by what they show, or browse by date",
        description="Words describe the photos; the query language adds -word, +word:1.5, "
                    "like:PATH, after:, before:, in:, type:, orientation: (see the README). "
                    "With no words, lists the library newest first.")
    p.add_argument("words", nargs="*", metavar="WORDS")
    add_filter_arguments(p)
    p = sub.add_parser("similar", parents=[common], help="find photos that look like an image")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("words", nargs="*", metavar="WORDS", help="words to add to the image")
    add_filter_arguments(p)


def build_query(args: argparse.Namespace) -> Query:
    """The query language in the words, then the options on top of it."""
    query = parse(" ".join(args.words))
    options = parse(" ".join(
        [f'after:{args.after}'] * bool(args.after) + [f'before:{args.before}'] * bool(args.before)
    ))
    examples = list(query.examples) + [os.path.abspath(p) for p in args.like]
    image = getattr(args, "image", None)
    if image is not None:
        examples.insert(0, os.path.abspath(image))
    types = tuple(dict.fromkeys(query.types + tuple(TYPES[t] for t in args.types)))
    after = options.after or query.after
    before = options.before or query.before
    if after and before and after >= before:
        raise QueryError(f"after {after.isoformat()} and before {before.isoformat()}: no day is "
                         "both; the 'after' date must come before the 'before' date")
    return query.with_options(
        examples=tuple(examples), after=after, before=before,
        folders=query.folders + tuple(args.folders), types=types,
        orientation=args.orientation or query.orientation,
        sort=args.sort or "relevance", good_only=args.good, limit=args.limit)


def cmd_search(args: argparse.Namespace, data) -> int:
    """Exit 2 for a query that cannot be understood (a usage error), as for bad options."""
    try:
        return _search(args, data)
    except QueryError as exc:
        print(f"photofind: error: {exc}", file=sys.stderr)
        return 2


def _search(args: argparse.Namespace, data) -> int:
    from photofind.core.search.engine import Engine
    from photofind.core.search.searcher import Searcher

    query = build_query(args)
    if args.words and not "".join(args.words).strip():
        raise QueryError("the search text is empty; type what the photos show, or leave "
                         "it out to list the library newest first")
    for path in query.examples:
        check_image_path(path)
    searcher = Searcher(data)
    try:
        cut = searcher.words_used(query.text) if query.text else None
        if cut is not None:  # the text tower reads a fixed number of tokens
            print(f"photofind: only the first {cut[0]} of your {cut[1]} words were used: "
                  "the model reads no more", file=sys.stderr)
        answer = Engine(searcher, stack=args.stack).run(query)
    finally:
        searcher.close()
    print_answer(answer, args.json)
    return 0


def cmd_similar(args: argparse.Namespace, data) -> int:
    check_image_path(args.image)
    return cmd_search(args, data)


def check_image_path(path: str) -> None:
    """A one-line error before the model loads unless `path` is a regular file of a
    size photofind reads (a FIFO would hang, /dev/zero never ends: filecheck.py)."""
    from photofind.core.media.filecheck import check_image_path as check

    check(path)


def print_answer(answer, as_json: bool) -> None:
    query = answer.query
    if as_json:
        document = {"query": query.describe(), "good": answer.good_count,
                    "results": [h.to_json() for h in answer.hits]}
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    if not answer.hits:
        print("No photos match these filters." if query.has_filters or query.good_only
              else "No matching photos.")
        return
    if query.browses:
        for h in answer.hits:
            print(f"{(h.photo.date or '')[:10]:10s}  {shown(h.photo.path)}"
                  + ("" if h.online else "  (offline)"))
        return
    # one result a line on stdout (for scripts and `| head`); the notes go to stderr
    if answer.no_good_match:
        note(f"no good matches for {shown(query.describe())}; the closest photos:")
    divider = False
    for h in answer.hits:
        if not h.good and not divider and answer.good_count:
            note(f"{answer.good_count} good matches above; weaker matches below")
            divider = True
        mark = "" if h.online else "  (offline)"
        if h.copies:
            mark += f"  (+{len(h.copies)} {'copy' if len(h.copies) == 1 else 'copies'})"
        print(f"{h.score:6.3f}  {shown(h.photo.path)}{mark}")


def note(message: str) -> None:
    sys.stdout.flush()
    print(f"photofind: {message}", file=sys.stderr, flush=True)
