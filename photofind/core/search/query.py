"""The query language, parsed once into a `Query` that the CLI and the GUI hand to a
`Searcher`.

    red sled -snow +kids:1.5 like:~/beach.jpg after:2023-06 before:2024 in:Italy
    type:heic orientation:portrait

- plain words are the description (joined with spaces);
- `-word`, `-"a phrase"`: away from it; `+word`, `+"a phrase"`: also this; either takes a
  weight, `+word:1.5` (default 1, so `-word` subtracts as much as a plain word adds);
- `like:PATH` (or `like:"a path with spaces"`) adds an example photo;
- `after:D` keeps photos taken on or after the start of D, `before:D` those taken before
  the start of D, where D is a year, a month or a day (`2023`, `2023-06`, `2023-06-15`);
- `in:FOLDER` keeps photos in a folder of that name anywhere in the library, or under that
  path (`in:~/Pictures/Trips`); several `in:` widen the choice;
- `type:jpeg|png|heic|gif|webp|tiff|avif|bmp` and `orientation:portrait|landscape|square`.

A `key:` that is not one of these keys is plain text (`16:9`, `http://…`). A known key
with a value that makes no sense is a `QueryError` naming the token: a mistyped filter
never turns into a silent empty result.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path

from photofind.core.errors import PhotofindError

SORTS = ("relevance", "newest", "oldest")
ORIENTATIONS = ("portrait", "landscape", "square")
# the name a person types → the format Pillow reports (the catalog's `format` column)
TYPES = {
    "jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "heic": "HEIF", "heif": "HEIF",
    "gif": "GIF", "webp": "WEBP", "tiff": "TIFF", "tif": "TIFF", "avif": "AVIF",
    "bmp": "BMP",
}
KEYS = ("like", "after", "before", "in", "type", "orientation")
MAX_WEIGHT = 10.0


class QueryError(PhotofindError):
    """A query that cannot mean what its author wanted; the message names the token."""


@dataclass(frozen=True)
class Term:
    """A phrase the results should be near (weight > 0) or away from (weight < 0)."""

    text: str
    weight: float


@dataclass(frozen=True)
class Query:
    """What a person asked for: a description, terms, example photos, filters, an order.

    `text` is the description as typed (plain words only); `terms` the `+`/`-` phrases;
    `examples` image paths (`like:` or a dropped photo). With none of these the query
    browses the library in date order."""

    text: str = ""
    terms: tuple[Term, ...] = ()
    examples: tuple[str, ...] = ()
    after: dt.date | None = None
    before: dt.date | None = None
    folders: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # catalog formats: "JPEG", "HEIF", ...
    orientation: str | None = None
    sort: str = "relevance"
    good_only: bool = False
    limit: int = 20
    offset: int = 0  # browsing: how many photos to skip (the next page)

    @property
    def has_content(self) -> bool:
        """True when the query describes what photos show (and so can be ranked)."""
        return bool(self.text or any(t.weight > 0 for t in self.terms) or self.examples)

    @property
    def has_filters(self) -> bool:
        return bool(self.after or self.before or self.folders or self.types
                    or self.orientation)

    @property
    def browses(self) -> bool:
        """No description at all: list the library (filtered) in date order."""
        return not self.has_content

    @property
    def effective_sort(self) -> str:
        return "newest" if self.browses and self.sort == "relevance" else self.sort

    def with_options(self, **changes) -> Query:
        return replace(self, **changes)

    def describe(self) -> str:
        """The query as the language writes it (for messages and the JSON `query`)."""
        parts = [self.text] if self.text else []
        for term in self.terms:
            sign = "+" if term.weight > 0 else "-"
            phrase = f'"{term.text}"' if " " in term.text else term.text
            weight = abs(term.weight)
            parts.append(f"{sign}{phrase}" + ("" if weight == 1 else f":{weight:g}"))
        parts += [f"like:{_quote(p)}" for p in self.examples]
        if self.after:
            parts.append(f"after:{self.after.isoformat()}")
        if self.before:
            parts.append(f"before:{self.before.isoformat()}")
        parts += [f"in:{_quote(f)}" for f in self.folders]
        parts += [f"type:{t.lower()}" for t in self.types]
        if self.orientation:
            parts.append(f"orientation:{self.orientation}")
        return " ".join(parts)


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) else value


# a token: an optional sign, then a quoted phrase or a run of non-space characters, either
# possibly followed by `:"quoted"` / `:value`
_TOKEN = re.compile(r'''
    (?P<sign>[+-])?
    (?:
        "(?P<phrase>[^"]*)"(?::(?P<pweight>\S+))?      # "a phrase" or "a phrase":1.5
      | (?P<key>[A-Za-z]+):"(?P<qvalue>[^"]*)"          # key:"quoted value"
      | (?P<word>\S+)                                    # anything else
    )
''', re.VERBOSE)


def parse(source: str) -> Query:
    """Parse the query language (see the module docstring) into a `Query`."""
    words: list[str] = []
    terms: list[Term] = []
    examples: list[str] = []
    folders: list[str] = []
    types: list[str] = []
    after = before = None
    orientation = None
    pos = 0
    while True:
        while pos < len(source) and source[pos].isspace():
            pos += 1
        if pos >= len(source):
            break
        match = _TOKEN.match(source, pos)
        assert match is not None  # \S+ always matches a non-space character
        pos = match.end()
        raw = match.group(0)
        sign = match.group("sign")
        if match.group("phrase") is not None:
            phrase = " ".join(match.group("phrase").split())
            if not phrase:
                continue
            if sign:
                terms.append(Term(phrase, _weight(raw, sign, match.group("pweight"))))
            else:
                words.append(phrase)
            continue
        key = match.group("key")
        value = match.group("qvalue")
        if key is None:
            word = match.group("word")
            if sign is None and ":" in word:
                head, _, rest = word.partition(":")
                if head.lower() in KEYS:
                    key, value = head, rest
            if key is None:
                if sign is not None and word.partition(":")[0].lower() in KEYS \
                        and ":" in word:
                    raise QueryError(f"{raw}: a filter takes no '+' or '-'; write "
                                     f"{word.partition(':')[0]}:… without it")
                if sign is not None and word:
                    text, weight = _split_weight(word)
                    terms.append(Term(text, _weight(raw, sign, weight)))
                elif sign is not None:  # a lone "+" or "-"
                    words.append(raw)
                else:
                    words.append(word)
                continue
        elif sign is not None or key.lower() not in KEYS:  # -in:"x", foo:"bar": plain text
            words.append(raw)
            continue
        key = key.lower()
        value = value.strip()
        if not value:
            raise QueryError(f"{raw}: give a value after '{key}:'" + _HINTS[key])
        if key == "like":
            examples.append(value)
        elif key == "after":
            after = _date(raw, value)
        elif key == "before":
            before = _date(raw, value)
        elif key == "in":
            folders.append(value)
        elif key == "type":
            if value.lower() not in TYPES:
                raise QueryError(f"{raw}: not a photo type photofind knows;" + _HINTS["type"])
            fmt = TYPES[value.lower()]
            if fmt not in types:
                types.append(fmt)
        elif key == "orientation":
            if value.lower() not in ORIENTATIONS:
                raise QueryError(f"{raw}: not an orientation;" + _HINTS["orientation"])
            orientation = value.lower()
    if after and before and after >= before:
        raise QueryError(f"after:{after.isoformat()} before:{before.isoformat()}: no day is "
                         "both; the 'after' date must come before the 'before' date")
    return Query(text=" ".join(words), terms=tuple(terms), examples=tuple(examples),
                 after=after, before=before, folders=tuple(folders), types=tuple(types),
                 orientation=orientation)


_HINTS = {
    "like": " for example like:~/beach.jpg",
    "after": " for example after:2023, after:2023-06 or after:2023-06-15",
    "before": " for example before:2024, before:2024-01 or before:2024-01-15",
    "in": " for example in:Italy or in:~/Pictures/Trips",
    "type": " use one of " + ", ".join(sorted({k for k in TYPES if k not in ("jpg", "tif", "heif")})),
    "orientation": " use portrait, landscape or square",
}


def _split_weight(word: str) -> tuple[str, str | None]:
    """`kids:1.5` → ("kids", "1.5"); `16:9` → ("16:9", None)."""
    head, sep, tail = word.rpartition(":")
    if sep and head and re.fullmatch(r"[0-9]*\.?[0-9]+", tail):
        return head, tail
    return word, None


def _weight(raw: str, sign: str, weight: str | None) -> float:
    value = 1.0
    if weight is not None:
        try:
            value = float(weight)
        except ValueError:
            raise QueryError(f"{raw}: the weight after ':' must be a number, "
                             "for example +kids:1.5") from None
        if not 0 < value <= MAX_WEIGHT:
            raise QueryError(f"{raw}: a weight must be above 0 and at most {MAX_WEIGHT:g}")
    return value if sign == "+" else -value


_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def _date(raw: str, value: str) -> dt.date:
    match = _DATE.fullmatch(value)
    key = raw.partition(":")[0].lower()
    if match is None:
        raise QueryError(f"{raw}: not a date;" + _HINTS[key])
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        return dt.date(year, month or 1, day or 1)
    except ValueError:
        raise QueryError(f"{raw}: no such day;" + _HINTS[key]) from None


def expand_example(path: str) -> str:
    """An example path as the searcher opens it: `~` expanded, made absolute."""
    return str(Path(path).expanduser().absolute())


__all__ = ["ORIENTATIONS", "SORTS", "TYPES", "Query", "QueryError", "Term", "parse"]
