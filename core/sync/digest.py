"""A row's fingerprint: 8 bytes of BLAKE2b over its values (and its children's).

Equal values give equal fingerprints, whatever objects hold them. marshal's version 2
writes no back-references, where later versions mark an object that happens to be
referenced elsewhere: with those, the same row could fingerprint differently from one listing
to the next and be rewritten for nothing. Values are plain (str, int, float, bool,
None, and tuples and lists of them). Nothing here raises for those.
"""

from __future__ import annotations

import hashlib
import marshal
from functools import partial
from typing import Any

DIGEST_VERSION = 2
"""marshal's format, part of every configured entity's mapping fingerprint."""
_blake = partial(hashlib.blake2b, digest_size=8)


def row_digest(values: tuple[Any, ...], children: list[tuple[Any, ...]]) -> bytes:
    """A row and its children; a row without children is fingerprinted from its values."""
    data = marshal.dumps((values, children) if children else values, DIGEST_VERSION)
    return _blake(data).digest()


def digests(rows: list[tuple[Any, ...]]) -> list[bytes]:
    """The fingerprints of rows without children, a page at a time."""
    return [_blake(m).digest() for m in map(marshal.dumps, rows, [DIGEST_VERSION] * len(rows))]
