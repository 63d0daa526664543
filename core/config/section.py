"""The base of every table of the configuration (`core.config`): immutable, and an unknown
key is an error, so that a typo is reported instead of silently ignored.

The modules that define tables do not postpone their annotations (no `from __future__
import annotations`): msgspec would compile and evaluate every one of them as text the
first time a configuration is loaded, most of the cost of loading it, on the way to the
console's first frame."""

import msgspec


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A table of the configuration: immutable, and an unknown key is an error."""
