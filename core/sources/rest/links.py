"""RFC 8288 `Link` headers: the target of `rel="next"`.

`next_link` reads every `Link` header of a response (several headers, several links per
header, commas inside `<...>` or quoted strings, `rel` quoted or not, relation lists such as
`rel="next last"`, any case) and returns the first target whose relations include `next`,
as written (the caller resolves a relative one against the request URL). A malformed link
is skipped, never an error: no next link means the listing ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx


def next_link(response: httpx.Response) -> str | None:
    for target, params in parse(", ".join(response.headers.get_list("link"))):
        rels = params.get("rel", "").lower().split()
        if "next" in rels:
            return target
    return None


def parse(text: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Each link in a `Link` field value: its target and its parameters (names lower case,
    the first of a repeated one kept)."""
    i, n = 0, len(text)
    while i < n:
        start = text.find("<", i)
        if start < 0:
            return
        end = text.find(">", start + 1)
        if end < 0:
            return
        target = text[start + 1 : end].strip()
        params: dict[str, str] = {}
        i = end + 1
        while True:
            while i < n and text[i] in " \t":
                i += 1
            if i >= n or text[i] != ";":
                break
            i += 1
            name, value, i = _param(text, i)
            if name:
                params.setdefault(name.lower(), value)
        yield target, params
        while i < n and text[i] != ",":  # junk up to the next link
            if text[i] == '"':
                _, i = _quoted(text, i)
            else:
                i += 1


def _param(text: str, i: int) -> tuple[str, str, int]:
    """A `name[=value]` parameter from `i`: (name, value, where it ended)."""
    n = len(text)
    start = i
    while i < n and text[i] not in "=;,":
        i += 1
    name = text[start:i].strip()
    if i >= n or text[i] != "=":
        return name, "", i
    i += 1
    while i < n and text[i] in " \t":
        i += 1
    if i < n and text[i] == '"':
        value, i = _quoted(text, i)
        return name, value, i
    start = i
    while i < n and text[i] not in ";,":
        i += 1
    return name, text[start:i].strip(), i


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The quoted string starting at `i` (a `"`), unescaped, and the index after it."""
    out: list[str] = []
    i += 1
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    return "".join(out), i
