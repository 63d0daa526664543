"""Why a configuration is invalid, in an operator's words: every bad key, with its reason.

msgspec stops at the first error; `problems()` walks the tables to name them all
(only on the error path, so a valid configuration never pays for it):
- unknown keys;
- values out of range (`inf` and `nan` named as such);
- choices outside their list (with the list), and a table's `kind` where the kind
  decides the table's keys (`[sources.NAME]`: a union of tagged Structs);
- environment values that are malformed JSON (with the variable);
- each table's own rules across keys, judged on its valid keys, so they are
  reported together with the others.

Pure functions; nothing here raises but `convert` (msgspec's `ValidationError`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec

from core.config.limits import duration_text


class MalformedJSON(str):
    """An environment value that looks like a JSON list or table and is not valid JSON.

    It stays usable as text; where the setting wants a list or a table, validation says
    which variable holds malformed JSON, and why, instead of "expected a list"."""

    variable: str
    error: str

    def __new__(cls, text: str, variable: str, error: ValueError) -> MalformedJSON:
        value = super().__new__(cls, text)
        value.variable = variable
        value.error = str(error)
        return value


def _path_hook(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str | os.PathLike):
        return Path(value)
    raise NotImplementedError


def convert(data: Any, kind: Any) -> Any:
    # Lax: the environment gives text ("5", "false") for numbers and switches.
    return msgspec.convert(data, kind, strict=False, dec_hook=_path_hook)


def problems(data: Any, kind: Any, key: str) -> list[tuple[str, str]]:
    """Every invalid key under `key`, with its reason. msgspec stops at the first error;
    this walks the tables to name them all (only on the error path)."""
    if isinstance(data, dict) and (struct := _struct_of(kind)) is not None:
        kind = struct  # a table where a union allows one (`entities.NAME`: table or switch)
    if isinstance(data, dict) and (tagged := _tagged(kind)):
        tag_field, members = tagged  # the table's kind decides its keys (`sources.NAME`)
        where = f"{key}.{tag_field}" if key else tag_field
        tag = data.get(tag_field)
        if tag is None:
            return [(where, f"missing: choose one of: {', '.join(members)}")]
        if not isinstance(tag, str) or tag not in members:
            return [(where, f"Invalid enum value {tag!r}; choose one of: {', '.join(members)}")]
        kind = members[tag]
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and isinstance(data, dict):
        fields: dict[str, Any] = {f.encode_name: f.type for f in msgspec.structs.fields(kind)}
        if isinstance(own_tag := kind.__struct_config__.tag_field, str):
            fields[own_tag] = Any  # the kind that chose this table, checked above
        found: list[tuple[str, str]] = []
        bad: set[str] = set()
        for name, value in data.items():
            where = f"{key}.{name}" if key else name
            here = (
                problems(value, fields[name], where)
                if name in fields
                else [(where, "unknown key, not permitted here")]
            )
            if here:
                bad.add(name)
                found += here
        if found:
            # The table's own checks across keys (heartbeat_s < lease_ttl_s) are reported
            # too, judged on the valid keys (defaults standing in for the invalid ones).
            rest = {name: value for name, value in data.items() if name not in bad}
            try:
                convert(rest, kind)
            except msgspec.ValidationError as exc:
                missing = re.match(_MISSING, str(exc))
                if missing is None:
                    found.append((key or "(top level)", _reason(str(exc), kind)))
                elif missing.group(1) not in bad:  # else named above, with its own reason
                    found.append((_join(key, missing.group(1)), "missing: required"))
            return found
    elif (item := _table_list_item(kind)) is not None and isinstance(data, list):
        found = []  # a list of tables (`[[notify.webhooks]]`): each named by its place
        for index, value in enumerate(data):
            found += problems(value, item, f"{key}[{index}]")
        if found:
            return found
    elif get_origin(kind) is dict and isinstance(data, dict):
        value_kind = get_args(kind)[1]
        found = []
        for name, value in data.items():
            found += problems(value, value_kind, f"{key}.{name}" if key else str(name))
        if found:
            return found
    try:
        convert(data, kind)
    except msgspec.ValidationError as exc:
        if isinstance(data, dict) and (missing := re.match(_MISSING, str(exc))):
            return [(_join(key, missing.group(1)), "missing: required")]
        if isinstance(data, MalformedJSON):
            return [(key, f"{data.variable} is malformed JSON ({data.error}): {str(data)!r}")]
        if _non_finite(data):
            return [(key or "(top level)", f"must be a finite number, not {data}")]
        seconds = key.endswith("_s") and not key.endswith("_per_s")  # not rate_limit_per_s
        return [(key or "(top level)", _reason(str(exc), kind, seconds))]
    return []


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _struct_of(kind: Any) -> Any:
    """The one Struct type among a union's members, if there is exactly one."""
    structs = [
        arg for arg in get_args(kind) if isinstance(arg, type) and issubclass(arg, msgspec.Struct)
    ]
    return structs[0] if len(structs) == 1 and get_origin(kind) is not dict else None


def _tagged(kind: Any) -> tuple[str, dict[str, type]] | None:
    """A union of tagged Structs: the tag's key and each tag's Struct; else None."""
    members = [
        arg for arg in get_args(kind) if isinstance(arg, type) and issubclass(arg, msgspec.Struct)
    ]
    configs = [member.__struct_config__ for member in members]
    if len(members) < 2 or not all(isinstance(c.tag_field, str) for c in configs):
        return None
    return str(configs[0].tag_field), {str(c.tag): m for c, m in zip(configs, members, strict=True)}


def _table_list_item(kind: Any) -> Any:
    """The Struct type of a list of tables (bounds or not), else None."""
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) is not list:
        return None
    item = get_args(kind)[0]
    return item if isinstance(item, type) and issubclass(item, msgspec.Struct) else None


def _non_finite(data: Any) -> bool:
    """inf or nan, as a number (TOML) or as text (the environment)."""
    if isinstance(data, bool) or not isinstance(data, float | str):
        return False
    try:
        return not math.isfinite(float(data))
    except ValueError:
        return False


def _choices(kind: Any) -> list[str]:
    """The values a Literal type (or a union holding one) allows."""
    if get_origin(kind) is Literal:
        return [str(choice) for choice in get_args(kind)]
    return [choice for arg in get_args(kind) for choice in _choices(arg)]


# Patterns, compiled (and cached by `re`) when a configuration first fails: a valid one,
# on the way to the console's first frame, never needs them.
_MISSING = r"^Object missing required field `(\w+)`$"
"""A table's required key that is not given (at the table itself, not deeper)."""
_BOUND = r"^Expected `(\w+)` (>=|<=|>|<) (\S+)"
_TYPE = r"^Expected `(\w+)`, got `(\w+)`"
_BOUND_WORDS = {
    ">": "greater than",
    ">=": "greater than or equal to",
    "<": "less than",
    "<=": "less than or equal to",
}
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def _reason(message: str, kind: Any = None, seconds: bool = False) -> str:
    """msgspec's message for one value, in an operator's words, without its `$.path`."""
    message = message.split(" - at `$", 1)[0]
    if message.startswith("Invalid enum value") and (choices := _choices(kind)):
        return f"{message}; choose one of: {', '.join(choices)}"
    if bound := re.match(_BOUND, message):
        number = bound.group(3).removesuffix(".0")
        if seconds:
            number = duration_text(float(number))
        return f"must be {_BOUND_WORDS[bound.group(2)]} {number}"
    if wrong := re.match(_TYPE, message):
        expected, got = (_TYPE_WORDS.get(t, t) for t in wrong.groups())
        return f"expected {expected}, got {got}"
    return message
