"""`syncdeck sources check`: each configured entity's mapping held against its database
or its API.

For each entity, in order:
- a first page is read exactly as a sync reads it (a source that cannot be reached
  ends the entity's check there, exit 3);
- the source's own probe: `SqlSource.check` (the relation runs, the columns exist, the
  key is unique, the cursor is never NULL, the database's time zone) or `RestSource.check`
  (its problems and notes, and sample records mapped to the replica's columns);
- three sample rows decoded by the entity's codec, so a value that does not fit its
  kind is named with its reason (exit 2).

The database's time zone beside the declared one is a note, not a problem: applications
often write naive local times into a server set to UTC. A secret never appears in a
report. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from core.config import Settings
from core.entities import EntitySpec
from core.errors import SourceError, SourceUnavailable
from core.sources.base import Source
from core.sources.sql.check import SqlCheck

EXIT_OK, EXIT_PROBLEM, EXIT_UNREACHABLE = 0, 2, 3


class SourceReport(msgspec.Struct, frozen=True):
    entity: str
    exit_code: int
    text: str
    """What an operator reads: a first line with the verdict, then indented details."""


async def check_sources(settings: Settings, names: list[str] | None) -> list[SourceReport]:
    """A report per configured entity (or per name in `names`). Raises LookupError for a
    name that is not a configured entity."""
    from core.runtime.services import entity_sources

    configured = {n: s for n, s in entity_sources(settings).items() if s[0].source is not None}
    chosen = list(configured) if names is None else names
    for name in chosen:
        if name not in configured:
            known = ", ".join(configured) or "none"
            raise LookupError(f"{name!r} is not a configured entity (configured: {known})")
    reports = []
    for name in chosen:
        spec, make_source = configured[name]
        rest = spec.source in settings.sources and settings.sources[spec.source].kind == "rest"
        reports.append(await _check(spec, make_source, rest=rest))
    return reports


class RestFindings(Protocol):
    """What `RestSource.check` finds (`rows`: sample records by replica column)."""

    @property
    def problems(self) -> Sequence[str]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def rows(self) -> Sequence[dict[str, Any]]: ...


async def _check(
    spec: EntitySpec, make_source: Callable[[], Source], *, rest: bool
) -> SourceReport:
    head = f"{spec.name} (source {spec.source})"
    try:
        source = make_source()
    except SourceError as exc:
        return SourceReport(spec.name, EXIT_PROBLEM, f"{head}: PROBLEM\n  {exc}")
    try:
        try:
            await source.page(spec.name, None, None, 1)
        except SourceUnavailable as exc:
            return SourceReport(spec.name, EXIT_UNREACHABLE, f"{head}: UNREACHABLE\n  {exc}")
        except SourceError:
            pass  # the probe below says which part of the mapping fails
        if rest:
            return await _rest_check(spec, head, source)
        from core.sources.sql.source import SqlSource

        assert isinstance(source, SqlSource)  # a configured entity's source
        check = await asyncio.to_thread(source.check, spec.name)
        return _report(spec, head, check)
    finally:
        await source.close()


def _report(spec: EntitySpec, head: str, check: SqlCheck) -> SourceReport:
    from core.sync.kinds import KindCodec

    problems = list(check.problems)
    if check.columns_missing:
        problems.append(f"columns the database cannot give: {', '.join(check.columns_missing)}")
    if check.key_unique is False:
        duplicated = (check.rows or 0) - (check.distinct_keys or 0)
        problems.append(f"the key is not unique ({duplicated} rows share a key with another)")
    if check.cursor_nulls:
        problems.append(
            f"{check.cursor_nulls} rows have no {spec.cursor}: an incremental run never lists them"
        )
    batch = KindCodec(spec).decode_rows([tuple(row) for row in check.sample])
    problems += [f"sample row {key}: {reason}" for key, _, reason in batch.rejected]
    lines = [f"{head}: {'PROBLEM' if problems else 'ok'} ({check.dialect})"]
    lines += [f"  problem: {problem}" for problem in problems]
    if check.database_time_zone is not None and check.database_time_zone != check.zone:
        lines.append(
            f"  note: the database's time zone is {check.database_time_zone}; naive "
            f"timestamps are read as {check.zone} (the source's `timezone`)"
        )
    if check.rows is not None:
        lines.append(f"  a full pass reads about {check.rows:,} rows")
    types = ", ".join(f"{name} {kind}" for name, kind in check.column_types.items())
    if types:
        lines.append(f"  columns: {types}")
    for values in batch.values:
        shown = ", ".join(
            f"{name}={value}" for name, value in zip(spec.columns, values, strict=True)
        )
        lines.append(f"  sample: {shown}")
    return SourceReport(spec.name, EXIT_PROBLEM if problems else EXIT_OK, "\n".join(lines))


async def _rest_check(spec: EntitySpec, head: str, source: Source) -> SourceReport:
    from core.sources.rest.source import RestSource

    assert isinstance(source, RestSource)  # a rest source's entity
    try:
        findings = await source.check(spec.name)
    except SourceUnavailable as exc:
        return SourceReport(spec.name, EXIT_UNREACHABLE, f"{head}: UNREACHABLE\n  {exc}")
    except SourceError as exc:
        return SourceReport(spec.name, EXIT_PROBLEM, f"{head}: PROBLEM\n  {exc}")
    return _rest_report(spec, head, findings)


def _rest_report(spec: EntitySpec, head: str, check: RestFindings) -> SourceReport:
    from core.sync.kinds import KindCodec

    problems = list(check.problems)
    batch = KindCodec(spec).decode([dict(row) for row in check.rows[:3]])
    problems += [f"sample row {key}: {reason}" for key, _, reason in batch.rejected]
    lines = [f"{head}: {'PROBLEM' if problems else 'ok'} (rest)"]
    lines += [f"  problem: {problem}" for problem in problems]
    lines += [f"  note: {note}" for note in check.notes]
    for values in batch.values:
        shown = ", ".join(
            f"{name}={value}" for name, value in zip(spec.columns, values, strict=True)
        )
        lines.append(f"  sample: {shown}")
    return SourceReport(spec.name, EXIT_PROBLEM if problems else EXIT_OK, "\n".join(lines))
