"""The base of every table of the configuration (`core.config`): immutable, and an unknown
key is an error, so that a typo is reported instead of silently ignored."""

from __future__ import annotations

import msgspec


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A table of the configuration: immutable, and an unknown key is an error."""
