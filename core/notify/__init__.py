"""Webhook notifications: the runner tells a chat tool or an alerting endpoint when a
request failed for good, a circuit opened or closed, or the store refused writes.

`notices` decides what deserves a notification (once per change of state),
`formats` renders it (syncdeck's JSON, or Slack's `{"text": ...}`), `sender`
posts it off the runner's path (a bounded queue and one task per webhook), and
`notifier` is the glue an `Orchestrator` holds. Nothing here reads the
configuration: `core.runtime` builds a `Notifier` from `[[notify.webhooks]]`,
and only then is this package imported (httpx only when a first body is sent).
"""

from core.notify.notices import Notice, NoticePolicy
from core.notify.notifier import Notifier
from core.notify.sender import Webhook, WebhookSender

__all__ = ["Notice", "NoticePolicy", "Notifier", "Webhook", "WebhookSender"]
