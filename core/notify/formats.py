"""A notice as a webhook's body: syncdeck's own JSON, or the `{"text": ...}` of chat tools.

- `json`: `{"source": "syncdeck", "version": 1, "kind", "text", "at", "service",
  "host", "holder", "data"}`: `at` in ISO 8601 with its offset, `service` null
  for the store's notices, `data` the notice's plain values (ids, outcome,
  error, circuit and failures, problem);
- `slack`: `{"text": "syncdeck on HOST: TEXT"}`, which Slack's, Mattermost's and
  Microsoft Teams' incoming webhooks all take; `&`, `<` and `>` are escaped as
  Slack asks, so an error quoting HTML cannot turn into a link or a mention.

Failures: none; `body` raises ValueError for a format that is not one of these.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.notify.notices import Notice

FORMATS = ("json", "slack")
VERSION = 1


def _slack_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def document(notice: Notice, host: str, holder: str) -> dict[str, Any]:
    """The `json` format's body, as plain values."""
    return {
        "source": "syncdeck",
        "version": VERSION,
        "kind": notice.kind,
        "text": notice.text,
        "at": notice.at.isoformat(),
        "service": notice.service,
        "host": host,
        "holder": holder,
        "data": notice.data,
    }


def body(notice: Notice, fmt: str, host: str, holder: str) -> bytes:
    """The request body for a webhook of format `fmt` (JSON, UTF-8)."""
    if fmt == "json":
        return msgspec.json.encode(document(notice, host, holder))
    if fmt == "slack":
        return msgspec.json.encode({"text": _slack_escaped(f"syncdeck on {host}: {notice.text}")})
    raise ValueError(f"unknown webhook format {fmt!r}; choose one of: {', '.join(FORMATS)}")
