"""PLACEHOLDER, to be replaced by the real REST source when the branches merge.

It only holds the interface the runtime imports (`core.runtime.services`,
`core.runtime.checks`), so that they type-check on this branch: `RestSource(spec,
entities)` with the Source protocol, `check` and `item_gone`. Every read raises
SourceError saying that the REST source is not in this build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from core.errors import SourceError
from core.sources.base import Page
from core.sources.rest.mapping import RestEntity, RestSourceSpec

MISSING = "the REST source is not in this build (a placeholder)"


class RestCheck(msgspec.Struct, kw_only=True):
    problems: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    samples: list[dict[str, Any]] = msgspec.field(default_factory=list)


class RestSource:
    def __init__(self, spec: RestSourceSpec, entities: Mapping[str, RestEntity]) -> None:
        self.spec = spec
        self.entities = dict(entities)

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        raise SourceError(MISSING)

    async def estimate(self, entity: str, since: str | None) -> int | None:
        return None

    async def check(self, entity: str) -> RestCheck:
        raise SourceError(MISSING)

    async def item_gone(self, entity: str, key_values: tuple[Any, ...]) -> bool:
        raise SourceError(MISSING)

    async def close(self) -> None:
        return None
