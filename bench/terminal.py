"""The terminal the console bench draws to: its size, and the text a screen shows once its
escape sequences are removed (so a marker can be looked for in what a terminal received)."""

from __future__ import annotations

import re

SIZE = (100, 30)
"""Columns and rows, headless (parts a and b) and in the pseudo-terminal (part c)."""

ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|.)")


def plain(terminal_bytes: str) -> str:
    return ANSI.sub("", terminal_bytes)
