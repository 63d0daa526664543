"""Text that fits a width without a word cut in two.

A line wider than its room loses whole pieces, never the end of a word: `fit_fields`
drops the least important fields first (the header's "since" before its clock, the
Active pane's progress bar before its figures), and cuts a field of prose (`words`:
a reason, an error, a log line) only between two words, marking the cut with an
ellipsis (`cut_words`). So every word on screen is whole: `interrupt`, `since 12…`
and `runner stoppe` cannot be drawn. Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.cells import cell_len
from rich.text import Text

ELLIPSIS = "…"
MIN_CUT = 8
"""A field of prose is cut only if at least this many cells of it remain; else dropped."""


def cut_words(text: Text, width: int) -> Text:
    """`text` whole if it fits `width` cells, else its longest run of whole words that
    fits with an ellipsis after it; just the ellipsis if not even its first word fits."""
    if text.cell_len <= width:
        return text.copy()
    if width <= 0:
        return Text()
    plain = text.plain
    end = len(plain)
    while end > 0:
        end = plain.rfind(" ", 0, end)
        if end <= 0:
            break
        kept = plain[:end].rstrip()
        if kept and cell_len(kept) + 1 <= width:
            out = text[: len(kept)]
            out.append(ELLIPSIS)
            return out
        end = len(kept)
    return Text(ELLIPSIS if width >= 1 else "")


class Field(NamedTuple):
    """One piece of a line that `fit_fields` keeps whole, cuts between words or drops."""

    rank: int
    """Importance: the lowest goes first when room is short."""
    text: Text
    words: bool = False
    """Prose: cut between two words (at least MIN_CUT cells kept) rather than dropped."""
    sep: str | None = None
    """What goes before it, if not the line's separator."""


def fit_fields(fields: Sequence[Field], width: int, separator: Text | str = " ") -> Text:
    """Join `fields` in their order within `width` cells. Least important first, a field
    of prose is cut between words while MIN_CUT cells of it (or all) remain; any other
    field, or prose with less room, is dropped whole. Fields of equal rank go last first.
    A line whose most important field alone is too wide is cut between words."""
    sep = separator if isinstance(separator, Text) else Text(separator)
    kept = [f._replace(text=f.text.copy()) for f in fields]

    def gap(i: int) -> int:
        own = kept[i].sep
        return sep.cell_len if own is None else cell_len(own)

    def total() -> int:
        return sum(f.text.cell_len for f in kept) + sum(gap(i) for i in range(1, len(kept)))

    for rank in sorted({f.rank for f in kept}):
        while total() > width and len(kept) > 1:
            index = next((i for i in reversed(range(len(kept))) if kept[i].rank == rank), None)
            if index is None:
                break
            field = kept[index]
            room = field.text.cell_len - (total() - width)
            if field.words and room >= min(MIN_CUT, field.text.cell_len):
                kept[index] = field._replace(text=cut_words(field.text, room))
            else:
                del kept[index]
        if total() <= width:
            break
    line = Text(no_wrap=True, end="")
    for i, field in enumerate(kept):
        if i:
            line.append(field.sep) if field.sep is not None else line.append_text(sep)
        line.append_text(field.text)
    return cut_words(line, width)
