"""Posting bodies to one webhook, off the caller's path.

`offer()` returns at once: the body waits in a bounded queue, which one task
drains, posting each body with httpx. When the queue is full the oldest body
is dropped, with one log line until the queue has room again. Each try is
bounded by `timeout_s` in all (connecting, sending, the answer). A body gets at
most `tries` tries with a doubling backoff between them, and is tried again
only after what may pass: no connection, no answer in time, HTTP 408, 429 or
5xx. A 2xx answer is success; any other answer ends the body's tries at once.
A body given up logs one warning line. `stop()` lets the queue drain for a
bounded time, then drops what is left, saying how much.

The URL is a secret (a chat tool's webhook holds its token). No log line or
error names it (the webhook is named by its configuration key), and httpx's
own request log line has it replaced by `***`. httpx is imported when the first
body is sent, not before, and on a worker thread.

Failures: none raised; `offer` never blocks and `stop` never waits longer than
its grace. A hanging or failing webhook delays only its own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("core.notify")

QUEUE_SIZE = 100
BACKOFF_S = (0.5, 8.0)
"""The wait before the second try, and the longest wait (it doubles in between)."""
USER_AGENT = "syncdeck-notify/1"
RETRY_STATUS = frozenset({408, 429})


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """Where bodies go, whatever the configuration said: its name is for log lines."""

    name: str
    url: str
    format: str = "json"
    timeout_s: float = 5.0
    tries: int = 3

    def __repr__(self) -> str:  # keeps the URL out of logs and tracebacks
        return f"Webhook(name={self.name!r}, format={self.format!r})"


def secret_parts(url: str) -> list[str]:
    """The pieces of `url` that could give its token away, longest first."""
    parts = urlsplit(url)
    pieces = {url, url.strip(), parts.netloc + parts.path, parts.query, parts.password or ""}
    if len(parts.path) > 1:
        pieces.add(parts.path)
    return sorted((p for p in pieces if len(p) > 1), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _Redact(logging.Filter):
    """On httpx's logger: its request line names the URL; ours are replaced by `***`."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub(message, self.secrets)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_REDACT = _Redact()


def _hide(url: str) -> list[str]:
    secrets = secret_parts(url)
    logger = logging.getLogger("httpx")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)
    _REDACT.secrets = sorted({*_REDACT.secrets, *secrets}, key=len, reverse=True)
    return secrets


class WebhookSender:
    """One webhook's queue and the task that empties it."""

    def __init__(
        self,
        webhook: Webhook,
        *,
        queue_size: int = QUEUE_SIZE,
        backoff_s: tuple[float, float] = BACKOFF_S,
    ) -> None:
        self.webhook = webhook
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self._backoff_s = backoff_s
        self._secrets = _hide(webhook.url)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._overflowing = False
        self._sending = False
        self.sent = 0
        self.given_up = 0
        self.dropped = 0

    @property
    def _label(self) -> str:
        return f"webhook {self.webhook.name} ({self.webhook.format})"

    def start(self) -> None:
        """Start the task that drains the queue (in the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=f"syncdeck-{self.webhook.name}")

    def offer(self, body: bytes) -> None:
        """Queue `body` to be posted; never blocks. A full queue loses its oldest body."""
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "%s: %d notifications already wait; dropping the oldest until it catches up",
                    self._label,
                    self._queue.maxsize,
                )
        self._queue.put_nowait(body)

    async def stop(self, grace_s: float) -> None:
        """Let the queue drain for at most `grace_s`, then drop what is left and close."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), grace_s)
        left = self._queue.qsize() + int(self._sending)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if left:
            log.warning("%s: %d notifications not sent (stopping)", self._label, left)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    async def _drain(self) -> None:
        while True:
            body = await self._queue.get()
            self._sending = True
            try:
                await self._deliver(body)
            except Exception as exc:  # a bug: never the end of the task, nor the URL in a log
                self.given_up += 1
                log.error("%s: a notification failed (%s)", self._label, type(exc).__name__)
            finally:
                self._sending = False
                self._queue.task_done()
                if self._queue.empty():
                    self._overflowing = False

    async def _deliver(self, body: bytes) -> None:
        hook = self.webhook
        delay, longest = self._backoff_s
        tries = 0
        while True:
            tries += 1
            failure, again = await self._try(body)
            if failure is None:
                self.sent += 1
                return
            if not again or tries >= hook.tries:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
        self.given_up += 1
        log.warning(
            "%s: notification given up after %d %s (%s)",
            self._label,
            tries,
            "try" if tries == 1 else "tries",
            failure,
        )

    def _new_client(self) -> httpx.AsyncClient:
        """Importing httpx and loading its CA bundle take tens of milliseconds: a worker
        thread does it, so that the event loop never waits on it."""
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # its CLI: slow
        import httpx

        return httpx.AsyncClient(
            timeout=self.webhook.timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )

    async def _try(self, body: bytes) -> tuple[str | None, bool]:
        """Post `body` once: (None, _) on success, else (why, whether to try again)."""
        if self._client is None:
            self._client = await asyncio.to_thread(self._new_client)
        import httpx  # loaded by now

        hook = self.webhook
        try:
            async with asyncio.timeout(hook.timeout_s):
                response = await self._client.post(hook.url, content=body)
        except (TimeoutError, httpx.TimeoutException):
            return f"no answer within {hook.timeout_s:g} s", True
        except httpx.TransportError as exc:
            return scrub(f"{type(exc).__name__}: {exc}", self._secrets), True
        except Exception as exc:  # an invalid URL, a redirect loop: trying again won't help
            return scrub(f"{type(exc).__name__}: {exc}", self._secrets), False
        status = response.status_code
        if 200 <= status < 300:
            return None, False
        return f"HTTP {status}", status in RETRY_STATUS or status >= 500
