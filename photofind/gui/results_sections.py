"""What the results grid shows, row by row: photos, date headers and the "Show N weaker
matches" divider, laid out on the grid's columns.

The grid keeps uniform cells (a QListView in icon mode: only the visible cells are painted,
so 100,000 photos scroll as smoothly as 40). A date header is a title cell that starts a
row (the row before it is padded with empty cells), followed by its month's photos. The
divider takes a whole row: the rest of its row is filled with cells that paint their
slice of it. Pure Python, no Qt: the
search worker's answers are turned into `Item`s on its thread, the rows on the GUI's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One photo as the window shows it (the fields of `core.search.searcher.Result`, and more)."""

    id: int
    path: str
    score: float | None  # None when browsing
    width: int | None
    height: int | None
    taken: str | None  # the date shown: EXIF, else the file's
    size: int
    format: str | None
    good: bool = True
    online: bool = True
    taken_from: str | None = None  # "exif" or "file"
    copies: tuple[Item, ...] = ()  # stacked under this one (core/duplicates/stacking)


@dataclass(frozen=True)
class Header:
    text: str


@dataclass(frozen=True)
class Divider:
    hidden: int  # how many weaker matches it stands for
    expanded: bool


@dataclass(frozen=True)
class Filler:
    """An empty cell: padding before a full row, or the rest of a full row (`of`)."""

    of: Header | Divider | None = None
    column: int = 0


Entry = Item | Header | Divider


def item_of(hit) -> Item:
    """A `core.search.engine.Hit` → `Item` (on the search worker's thread)."""
    p = hit.photo
    copies = tuple(Item(c.id, c.path, hit.score, c.width, c.height, c.date or c.taken, c.size,
                        c.format, hit.good, hit.online, c.taken_from)
                   for c in getattr(hit, "copies", ()))
    return Item(p.id, p.path, hit.score, p.width, p.height, p.date or p.taken, p.size,
                p.format, hit.good, hit.online, p.taken_from, copies)


def month_of(item: Item) -> str:
    when = _date(item.taken)
    return f"{when:%B %Y}" if when else "No date"


def day_of(item: Item) -> str:
    when = _date(item.taken)
    return f"{when:%A} {when.day} {when:%B %Y}" if when else "No date"


def _date(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def entries(items: list[Item], *, dated: bool, per: str = "month",
            expanded: bool = False, weaker: bool = True) -> list[Entry]:
    """The entries for `items` (good matches first, as the engine orders them): a date
    header before each month (or day) of the good ones when `dated`, then the divider and,
    when `expanded`, the weaker matches. `weaker=False`: no divider (browsing, or nothing
    good at all: the window then shows the closest photos under its own note)."""
    good = [i for i in items if i.good] if weaker else list(items)
    weak = [i for i in items if not i.good] if weaker else []
    out: list[Entry] = []
    label = month_of if per == "month" else day_of
    last = None
    for item in good:
        if dated:
            name = label(item)
            if name != last:
                out.append(Header(name))
                last = name
        out.append(item)
    if weak:
        out.append(Divider(len(weak), expanded))
        if expanded:
            out.extend(weak)
    return out


def lay_out(entries_: list[Entry], columns: int, start: int = 0) -> list[Entry | Filler]:
    """The grid's cells: a date header starts a row, as a title cell before the month's
    photos (a row of its own would be a whole cell high: a blank band above each month);
    the divider starts a row and fills it (`start`: how many cells come before these,
    for appending to a grid)."""
    columns = max(1, columns)
    rows: list[Entry | Filler] = []
    for entry in entries_:
        if isinstance(entry, Item):
            rows.append(entry)
            continue
        if columns > 1:
            rows.extend(Filler() for _ in range(-(start + len(rows)) % columns))
        rows.append(entry)
        if isinstance(entry, Divider):
            rows.extend(Filler(entry, c) for c in range(1, columns))
    return rows
