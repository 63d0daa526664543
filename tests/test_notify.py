"""Webhook notifications in one process: what is told (once per change of state), and how
it is sent (off the caller's path, bounded), against a real HTTP receiver on 127.0.0.1.

The daemons' end-to-end tests are in `test_notify_daemon.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.clock import ManualClock
from support.receiver import Receiver

from core.config import Settings
from core.errors import StoreUnwritable, TransientError
from core.models import Event, EventKind, RunCounts, RunOutcome, SyncMode
from core.notify import Notice, NoticePolicy, Notifier, Webhook, WebhookSender
from core.notify.formats import body
from core.orchestrator import Orchestrator
from core.orchestrator.faults import StoreHealth
from core.store import SQLiteStore
from core.sync.service import RunContext

T0 = 1_800_000_000.0
AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
TOKEN = "xoxb-s3cret-T0KEN"
QUIET_S = 0.5
"""How long a receiver is given, after the last expected notification, to get another."""


def event(kind: EventKind, request_id: int | None = 1, **data: Any) -> Event:
    return Event(id=1, at=AT, kind=kind, service="orders", request_id=request_id, data=data)


def failed_run(request_id: int = 1, error: str = "ERP down") -> Event:
    return event(EventKind.RUN_FINISHED, request_id, outcome="failed", error=error)


def kinds(notices: list[Notice]) -> list[str]:
    return [notice.kind for notice in notices]


# -- what is told: the policy --------------------------------------------------------------


def test_a_request_that_failed_for_good_is_told_once_with_its_error_and_a_retry_is_not() -> None:
    policy = NoticePolicy()
    retry = policy.events([failed_run(), event(EventKind.REQUEST_RETRY, attempt=2)])
    assert retry == []
    finished = event(EventKind.REQUEST_FINISHED, outcome="failed")
    [notice] = policy.events([failed_run(error="orders: <html> 503"), finished])
    assert notice.kind == "run.failed" and notice.service == "orders"
    assert "orders sync failed, no retry left: orders: <html> 503" in notice.text
    assert notice.data["error"] == "orders: <html> 503"
    slack = body(notice, "slack", "host1", "host1:1:abc").decode()
    assert "&lt;html&gt;" in slack and "syncdeck on host1" in slack  # escaped as Slack asks

    timed_out = event(EventKind.RUN_FINISHED, 2, outcome="timed_out", error="run exceeded")
    [notice] = policy.events([timed_out, event(EventKind.REQUEST_FINISHED, 2, outcome="timed_out")])
    assert "timed out, no retry left" in notice.text
    ok = event(EventKind.RUN_FINISHED, 3, outcome="succeeded", error=None)
    assert policy.events([ok, event(EventKind.REQUEST_FINISHED, 3, outcome="succeeded")]) == []


def test_a_retry_merged_into_a_queued_request_is_not_a_final_failure() -> None:
    """A failed try whose retry merges into the service's queued request ends its own request
    `finished` and failed, after a `request.merged` with source retry: not for good."""
    policy = NoticePolicy()
    merged = event(EventKind.REQUEST_MERGED, 2, source="retry", superseded=1)
    finished = event(EventKind.REQUEST_FINISHED, 1, outcome="failed")
    assert policy.events([failed_run(1), merged, finished]) == []
    # ... and the request it merged into, failing for good, is told
    told = policy.events([failed_run(2), event(EventKind.REQUEST_FINISHED, 2, outcome="failed")])
    assert kinds(told) == ["run.failed"]


def test_a_circuit_is_told_when_it_opens_and_closes_not_when_a_probe_fails() -> None:
    policy = NoticePolicy()

    def circuit(state: str) -> list[Notice]:
        return policy.events([event(EventKind.CIRCUIT_CHANGED, circuit=state, failures=3)])

    [opened] = circuit("open")
    assert opened.kind == "circuit.opened" and "after 3 failures in a row" in opened.text
    assert circuit("half_open") == [] and circuit("open") == []  # a failed probe: still open
    assert circuit("half_open") == []
    [closed] = circuit("closed")
    assert closed.kind == "circuit.closed"
    assert closed.text == "orders circuit closed: orders syncs again"


def test_the_stores_trouble_is_told_by_the_runner_once_and_its_end_only_where_told() -> None:
    policy = NoticePolicy()
    assert policy.store("store unwritable: disk full", False, False, AT) is None  # not runner
    assert policy.store(None, False, True, AT) is None  # its beginning was not told here
    begun = policy.store("store unwritable: disk full", False, True, AT)
    assert begun is not None and begun.kind == "store.unwritable"
    assert policy.store("store unwritable: I/O error", False, True, AT) is None  # same state
    ended = policy.store(None, False, False, AT)  # told here, so ended here (lease or not)
    assert ended is not None and ended.kind == "store.usable"
    assert ended.text == "the store takes writes again (it was: store unwritable: disk full)"
    assert policy.store(None, False, True, AT) is None
    policy.store("store unwritable: disk full", False, True, AT)
    broken = policy.store("store replaced under syncdeck", True, True, AT)
    assert broken is not None and broken.kind == "store.broken"


# -- how it is sent: one webhook's sender ----------------------------------------------------


def hook(receiver: Receiver, **kwargs: Any) -> Webhook:
    return Webhook(name="notify.webhooks[0]", url=receiver.url(TOKEN), **kwargs)


def webhook_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.notify"]


async def test_a_webhook_answering_500_is_tried_tries_times_then_given_up_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver("fail") as receiver:
        sender = WebhookSender(hook(receiver, tries=3), backoff_s=(0.05, 0.1))
        sender.start()
        sender.offer(b'{"text": "one"}')
        await asyncio.to_thread(receiver.wait_for, 3)
        await asyncio.sleep(QUIET_S)
        assert len(receiver.hits) == 3
        await sender.stop(1.0)
    assert (sender.sent, sender.given_up) == (0, 1)
    assert webhook_lines(caplog) == [
        "webhook notify.webhooks[0] (json): notification given up after 3 tries (HTTP 500)"
    ]
    assert TOKEN not in caplog.text and "/hooks/" not in caplog.text  # httpx's own line too
    assert "POST ***" in caplog.text  # (the control: httpx did log its request line)


async def test_a_hanging_webhook_never_blocks_the_loop_and_gives_up_after_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Receiver("hang") as receiver:
        sender = WebhookSender(hook(receiver, timeout_s=1.0, tries=1))
        sender.start()
        began = time.monotonic()
        sender.offer(b'{"text": "one"}')
        assert time.monotonic() - began < 0.05  # offer returns at once
        await asyncio.to_thread(receiver.wait_for, 1)
        lags = []
        while sender.given_up == 0 and time.monotonic() - began < 10:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        assert sender.given_up == 1
        assert 0.9 < time.monotonic() - began < 3
        assert max(lags) < 0.5  # the event loop kept turning while the webhook hung
        await sender.stop(1.0)
    assert webhook_lines(caplog) == [
        "webhook notify.webhooks[0] (json): notification given up after 1 try "
        "(no answer within 1 s)"
    ]


async def test_a_full_queue_drops_the_oldest_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Receiver("ok") as receiver:
        sender = WebhookSender(hook(receiver), queue_size=2)
        for n in range(5):  # not started yet: everything waits in the queue
            sender.offer(b'{"n": %d}' % n)
        assert sender.dropped == 3
        sender.start()
        assert await asyncio.to_thread(receiver.wait_for, 2) == [{"n": 3}, {"n": 4}]
        await sender.stop(1.0)
        assert len(receiver.hits) == 2
    [line] = webhook_lines(caplog)
    assert "2 notifications already wait; dropping the oldest" in line


async def test_stopping_waits_a_bounded_time_for_a_hanging_webhook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Receiver("hang") as receiver:
        sender = WebhookSender(hook(receiver, timeout_s=60))
        sender.start()
        sender.offer(b"{}")
        sender.offer(b"{}")
        await asyncio.to_thread(receiver.wait_for, 1)
        began = time.monotonic()
        await sender.stop(0.3)
        assert time.monotonic() - began < 1.5
    assert webhook_lines(caplog) == [
        "webhook notify.webhooks[0] (json): 2 notifications not sent (stopping)"
    ]


async def test_the_stores_trouble_reaches_the_webhook_through_store_health() -> None:
    """`StoreHealth` tells the notifier each change; it sends one alert per change of state."""
    with Receiver("ok") as receiver:
        notifier = Notifier([hook(receiver)])
        holds_lease = [True]
        notifier.start("host1", "host1:1:abc", lambda: holds_lease[0])
        health = StoreHealth(on_change=notifier.store_changed)
        for _ in range(3):
            health.failed(StoreUnwritable("store unwritable: database or disk is full"))
        holds_lease[0] = False  # the lease ran out meanwhile: its end is still told here
        health.succeeded()
        health.succeeded()
        bodies = await asyncio.to_thread(receiver.wait_for, 2)
        await asyncio.sleep(QUIET_S)
        await notifier.stop()
        assert [b["kind"] for b in receiver.bodies] == ["store.unwritable", "store.usable"]
    assert bodies[0]["data"] == {"problem": "store unwritable: database or disk is full"}
    assert bodies[0]["service"] is None and bodies[0]["host"] == "host1"


# -- an orchestrator that holds a notifier ---------------------------------------------------


class Flaky:
    """A service that fails while `fail` is set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fail = True

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return SyncMode.FULL, "test"

    async def run(self, ctx: RunContext) -> RunCounts:
        if self.fail:
            raise TransientError(f"{self.name}: ERP unavailable")
        return RunCounts(fetched=1, unchanged=1)


Make = Callable[..., Orchestrator]


@pytest.fixture
async def make(data_dir: Path) -> AsyncIterator[Make]:
    made: list[Orchestrator] = []
    clock = ManualClock(T0)

    def factory(service: Flaky, notifier: Notifier, **kwargs: Any) -> Orchestrator:
        settings = Settings.from_values(
            data_dir=data_dir,
            schedule={"enabled": False},
            orchestrator={
                "heartbeat_s": 0.2,
                "lease_ttl_s": 10_000.0,
                "retry": {"tries": 1},
                "circuit": {"failure_threshold": 2, "cooldown_s": 60.0},
            },
        )
        store = SQLiteStore(data_dir / "syncdeck.db", clock=clock)
        orch = Orchestrator(store, {service.name: service}, settings, listener=notifier, **kwargs)
        made.append(orch)
        return orch

    factory.clock = clock  # type: ignore[attr-defined]
    yield factory
    for orch in made:
        await orch.stop()


async def test_a_circuit_sends_one_opened_and_after_a_good_probe_one_closed(
    make: Make, data_dir: Path
) -> None:
    """Two failures open the circuit (one "opened"); a failed probe tells only its request's
    failure; the good probe closes it (one "closed"). A standby orchestrator on the same
    store, with a notifier of its own, relays every event and sends nothing."""
    clock: ManualClock = make.clock  # type: ignore[attr-defined]
    orders = Flaky("orders")
    with Receiver("ok") as receiver, Receiver("ok") as standby_receiver:
        runner = make(orders, Notifier([hook(receiver)]))
        await runner.start()
        standby = make(orders, Notifier([hook(standby_receiver)]), runner=False)
        await standby.start()
        relayed = standby.events()

        async def run_once() -> RunOutcome:
            request = await runner.request("orders")
            return (await runner.wait(request.id, timeout=10)).outcome

        assert [await run_once(), await run_once()] == [RunOutcome.FAILED] * 2
        clock.advance(61)  # the cooldown is over: the probe fails, the circuit opens again
        assert await run_once() == RunOutcome.FAILED
        orders.fail = False
        clock.advance(61)
        assert await run_once() == RunOutcome.SUCCEEDED

        bodies = await asyncio.to_thread(receiver.wait_for, 5)
        await asyncio.sleep(QUIET_S)
        assert [b["kind"] for b in receiver.bodies] == [
            "run.failed",
            "circuit.opened",
            "run.failed",
            "run.failed",
            "circuit.closed",
        ]
        circuits: list[str] = []
        deadline = time.monotonic() + 10
        while circuits[-1:] != ["closed"] and time.monotonic() < deadline:
            circuits += [
                e.data["circuit"] for e in relayed.pending() if e.kind == EventKind.CIRCUIT_CHANGED
            ]
            await asyncio.sleep(0.05)
        assert circuits == ["open", "half_open", "open", "half_open", "closed"]
        await asyncio.sleep(QUIET_S)
        assert standby_receiver.hits == []  # it saw them all, relayed: not its to send
    opened = bodies[1]
    assert opened["service"] == "orders" and opened["data"]["failures"] == 2
    assert bodies[0]["data"]["error"] == "orders: ERP unavailable"
    assert bodies[4]["text"] == "orders circuit closed: orders syncs again"
