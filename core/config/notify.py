"""The `[[notify.webhooks]]` tables: where the runner sends its alerts (`core.notify`).

Part of `core.config`, apart because a webhook's URL is a secret: Slack's, Mattermost's
and Teams' incoming webhooks carry their token in it. It never appears in a repr or an
error message; `url_file` keeps it out of the configuration file and the environment.
Each table is checked on its own and a mistake is named by its key
(`notify.webhooks[0].format`, counted from 0 in the order of the file). The file behind
`url_file` is read when the orchestrator is built (`core.runtime`), not here.
"""

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from core.config.section import Section

MAX_WEBHOOKS = 20


def is_http_url(text: str) -> bool:
    """Whether `text` is an absolute http:// or https:// URL with a host."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class WebhookSettings(Section, frozen=True, kw_only=True):
    """One webhook: its URL (inline or in a file), its body's format, and its patience."""

    url: str | None = None
    """The webhook's URL, token included; never shown. Safer: `url_file`."""
    url_file: Path | None = None
    """A file holding the URL (its first line); readable by the owner only, as a rule."""
    format: Literal["json", "slack"] = "json"
    """json: syncdeck's own body; slack: `{"text": ...}`, which Slack's, Mattermost's and
    Teams' incoming webhooks take."""
    timeout_s: Annotated[float, Meta(gt=0, le=300)] = 5.0
    """How long one try may take, all of it (connecting, sending, the answer)."""
    tries: Annotated[int, Meta(ge=1, le=10)] = 3
    """Tries per notification, the first included, with a backoff between them."""

    def __post_init__(self) -> None:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        if self.url is not None and not is_http_url(self.url):
            raise ValueError("url must be an http:// or https:// URL")

    def __repr__(self) -> str:  # keeps the URL out of logs and tracebacks
        shown = msgspec.structs.asdict(self) | ({"url": "***"} if self.url else {})
        return f"WebhookSettings({shown})"


class NotifySettings(Section, frozen=True, kw_only=True):
    """Alerts the runner sends: a request failed for good, a circuit opened or closed,
    the store refused writes or took them again."""

    webhooks: Annotated[list[WebhookSettings], Meta(max_length=MAX_WEBHOOKS)] = msgspec.field(
        default_factory=list
    )
