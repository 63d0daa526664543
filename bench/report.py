"""The benchmark scripts' results: a figure's row (metric, result, target, verdict), the
two ways the scripts log a figure as it is measured, and the Markdown table they all end
with (the README's tables are pasted from it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

TableRow = tuple[str, str, str, str]
"""A line of a Metric / Result / Target / Status table (the sync and PostgreSQL scripts):
the status is PASS, FAIL (PostgreSQL: MISS, or ERROR for a part that failed) or empty for a
reference figure."""


def verdict(ok: bool | None, missed: str = "FAIL") -> str:
    """ "PASS", `missed`, or "" for a figure with no target (ok is None)."""
    return "" if ok is None else ("PASS" if ok else missed)


@dataclass
class Row:
    metric: str
    value: str
    target: str
    ok: bool | None  # None: informational, no target
    part: str = ""

    @property
    def verdict(self) -> str:
        return verdict(self.ok)


@dataclass
class Report:
    """The orchestrator bench's figures (also run by the PostgreSQL bench): each is logged
    as `    metric: value (detail)   target T  [PASS]` as it is added."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    context: str = ""

    def add(
        self,
        metric: str,
        value: str,
        target: str = "reference",
        ok: bool | None = None,
        detail: str = "",
    ) -> None:
        """One figure: `value` goes in the table, `detail` only in the running log."""
        row = Row(metric, value, target, ok)
        self.rows.append(row)
        verdict = f"  [{row.verdict}]" if row.verdict else ""
        more = f" ({detail})" if detail else ""
        print(f"    {metric}: {value}{more}   target {target}{verdict}", flush=True)


@dataclass
class PartReport:
    """The console bench's figures, by part: each is logged as
    `    metric: value   target T   PASS` (no target: neither) as it is added."""

    rows: list[Row] = field(default_factory=list)

    def add(
        self, part: str, metric: str, value: str, target: str = "", ok: bool | None = None
    ) -> None:
        row = Row(metric, value, target, ok, part)
        self.rows.append(row)
        verdict = f"   {row.verdict}" if row.verdict else ""
        target_text = f"   target {target}" if target else ""
        print(f"    {metric}: {value}{target_text}{verdict}", flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], context: str = "") -> None:
    """A blank line, `context` and another blank line if given, then a Markdown table with
    every column as wide as its widest cell."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    if context:
        print(context)
        print()
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
