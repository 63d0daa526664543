"""The entities syncdeck copies: what one is (`spec`) and the built-in four (`builtin`).

Import them from here. Standard library and msgspec only.
"""

from core.entities.builtin import BUILTIN_PRIORITIES, ENTITIES, STAGGER_ORDER
from core.entities.spec import (
    CURSOR_PATTERN,
    MINUTE,
    SYNC_KEY,
    SYNC_PARENT,
    ChildTable,
    ColumnKind,
    EntitySpec,
)

__all__ = [
    "BUILTIN_PRIORITIES",
    "CURSOR_PATTERN",
    "ENTITIES",
    "MINUTE",
    "STAGGER_ORDER",
    "SYNC_KEY",
    "SYNC_PARENT",
    "ChildTable",
    "ColumnKind",
    "EntitySpec",
]
