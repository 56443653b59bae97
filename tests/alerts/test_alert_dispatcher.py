"""Dispatcher end to end against local receivers: dedupe, independence of channels, outbox, restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alerts_support import FIXTURES, FakeClock, Reply, make_alert
from prometheus_client import REGISTRY

from pipeline.alerts.channels import AlertChannel, RetryPolicy, SlackChannel, WebhookChannel
from pipeline.alerts.dispatcher import AlertDispatcher, default_routing
from pipeline.alerts.incidents import IncidentBook
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.owners import OwnerDirectory
from pipeline.alerts.routing import Router
from pipeline.core.schema import Alert
from pipeline.core.settings import load_settings

FAST = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0.0)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"hypermicro_{name}", labels) or 0.0


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def make_dispatcher(state: Path, channels: dict[str, AlertChannel], clock: FakeClock | None = None,
                    **kw: Any) -> AlertDispatcher:
    clock = clock or FakeClock()
    router = Router(default_routing(channels), OwnerDirectory.from_files(FIXTURES / "brands.yaml", None))
    incidents = IncidentBook(state / "incidents.sqlite3", window_s=1800, cooldown_s=1800, clock=clock)
    outbox = Outbox(state / "outbox.sqlite3", backoff_initial_s=kw.pop("backoff_s", 30.0), max_attempts=5)
    kw.setdefault("retry_interval_s", 0.05)
    return AlertDispatcher(channels, router, incidents, outbox, clock=clock, **kw)


class ListSink:
    def __init__(self) -> None:
        self.rows: list[tuple[Alert, bool, str]] = []

    async def record(self, alert: Alert, *, delivered: bool, reason: str) -> None:
        self.rows.append((alert, delivered, reason))


async def test_twenty_alerts_one_incident_delivered_once_then_escalation(tmp_path: Path, receiver_factory) -> None:
    rx = receiver_factory()
    clock = FakeClock()
    sink = ListSink()
    d = make_dispatcher(tmp_path, {"webhook": WebhookChannel(rx.url, "k", retry=FAST)}, clock, sink=sink)
    suppressed0 = metric("alerts_suppressed_total", reason="duplicate")
    await d.start()
    try:
        results = []
        for i in range(20):
            results.append(await d.submit(make_alert(minute=i, observed=100 + i)))
            clock.advance(60)
        assert await d.drain(5)
        assert len(rx.requests) == 1
        first = results[0]
        assert first is not None and first.incident_id and first.owners == ["comms-nimbus@example.com"]
        assert results[1:] == [None] * 19
        assert metric("alerts_suppressed_total", reason="duplicate") - suppressed0 == 19
        sent = Alert.model_validate_json(rx.requests[0].body)
        assert sent.incident_id == first.incident_id and sent.owners == first.owners

        escalated = await d.submit(make_alert(minute=30, severity="critical", observed=130))
        assert escalated is not None and escalated.incident_id == first.incident_id
        assert await d.drain(5)
        assert len(rx.requests) == 2 and json.loads(rx.requests[1].body)["severity"] == "critical"
    finally:
        await d.stop()
        d.close()
    assert [(a.incident_id == first.incident_id, reason) for a, _, reason in sink.rows][:2] == [
        (True, "new"), (True, "duplicate")]
    assert len(sink.rows) == 21 and sum(1 for _, delivered, _ in sink.rows if delivered) == 2


async def test_failing_channel_does_not_block_webhook_and_ends_in_outbox(tmp_path: Path, receiver_factory) -> None:
    good = receiver_factory()
    hanging = receiver_factory(default=Reply(delay_s=3.0))
    channels: dict[str, AlertChannel] = {
        "webhook": WebhookChannel(good.url, "k", retry=FAST),
        "slack": SlackChannel(hanging.url, "http://dash", timeout_s=0.3, retry=FAST),
    }
    d = make_dispatcher(tmp_path, channels)
    delivered0 = metric("alerts_delivered_total", channel="webhook")
    failed0 = metric("alerts_failed_total", channel="slack")
    await d.start()
    try:
        t0 = time.monotonic()
        alert = await d.submit(make_alert())
        assert alert is not None and time.monotonic() - t0 < 0.2  # submit never waits for delivery
        # the webhook is delivered while the Slack request is still hanging
        await wait_for(lambda: len(good.requests) == 1 and d.outbox.count() == 1, timeout=0.5)
        assert d.outbox.entries()[0].channel == "slack"
        await wait_for(lambda: d.outbox.entries()[0].attempts == 1, timeout=3)
    finally:
        await d.stop()
    (entry,) = d.outbox.entries()
    assert entry.channel == "slack" and entry.status == "pending" and "timeout" in (entry.last_error or "")
    assert entry.alert.id == alert.id and entry.alert.incident_id == alert.incident_id
    assert metric("alerts_delivered_total", channel="webhook") - delivered0 == 1
    assert metric("alerts_failed_total", channel="slack") - failed0 == 1
    assert metric("outbox_size") == 1
    d.close()


async def test_outbox_survives_restart_and_retry_delivers(tmp_path: Path, receiver_factory) -> None:
    broken = receiver_factory(default=Reply(500))
    clock = FakeClock()
    d1 = make_dispatcher(tmp_path, {"webhook": WebhookChannel(broken.url, "k", retry=FAST)}, clock,
                         backoff_s=0.2)
    await d1.start()
    alert = make_alert()
    await d1.submit(alert)
    await wait_for(lambda: len(broken.requests) == 2)  # both in-channel attempts failed
    await d1.stop()
    assert d1.outbox.count() == 1
    d1.close()

    # "restart" with the receiver fixed (here: a new URL for the same channel)
    fixed = receiver_factory()
    d2 = make_dispatcher(tmp_path, {"webhook": WebhookChannel(fixed.url, "k", retry=FAST)}, clock,
                         backoff_s=0.2)
    assert d2.outbox.count() == 1
    assert await d2.submit(alert) is None  # the restarted worker does not re-alert
    await d2.start()
    try:
        await wait_for(lambda: len(fixed.requests) == 1, timeout=5)  # the periodic outbox retry
        await wait_for(lambda: d2.outbox.count() == 0)
        assert Alert.model_validate_json(fixed.requests[0].body).id == alert.id
    finally:
        await d2.stop()
        d2.close()


async def test_non_retryable_failure_is_kept_as_failed_until_retried(tmp_path: Path, receiver_factory) -> None:
    rx = receiver_factory([Reply(410, body=b"channel_is_archived")])
    d = make_dispatcher(tmp_path, {"slack": SlackChannel(rx.url, "http://d", retry=FAST)})
    await d.submit(make_alert())
    await d.start()
    try:
        await wait_for(lambda: d.outbox.count("failed") == 1)
        assert len(rx.requests) == 1
        report = await d.retry_outbox()  # e.g. after un-archiving the channel
        assert (report.attempted, report.delivered, report.failed) == (1, 1, 0)
        assert d.outbox.count() == 0 and len(rx.requests) == 2
    finally:
        await d.stop()
        d.close()


async def test_stop_drains_with_timeout_and_keeps_the_rest(tmp_path: Path, receiver_factory) -> None:
    hanging = receiver_factory(default=Reply(delay_s=3.0))
    d = make_dispatcher(tmp_path, {"webhook": WebhookChannel(hanging.url, "k", timeout_s=5, retry=FAST)},
                        drain_timeout_s=0.2)
    await d.start()
    await d.submit(make_alert())
    await wait_for(lambda: len(hanging.requests) == 1)
    t0 = time.monotonic()
    await d.stop()
    assert time.monotonic() - t0 < 1.0
    (entry,) = d.outbox.entries()
    assert entry.status == "pending" and entry.attempts == 0  # interrupted, will be delivered later
    d.close()


async def test_unrouted_alert_is_suppressed_not_lost(tmp_path: Path) -> None:
    sink = ListSink()
    d = make_dispatcher(tmp_path, {}, sink=sink)  # no channels at all
    assert await d.submit(make_alert()) is None
    assert sink.rows[0][1:] == (False, "no_route")
    d.close()


def test_submit_sync_outside_event_loop(tmp_path: Path, receiver_factory) -> None:
    rx = receiver_factory()
    d = make_dispatcher(tmp_path, {"webhook": WebhookChannel(rx.url, "k", retry=FAST)})
    out = d.submit_sync(make_alert())
    assert out is not None and len(rx.requests) == 1 and d.outbox.count() == 0
    assert d.submit_sync(make_alert(minute=1)) is None  # same incident
    assert len(rx.requests) == 1
    d.close()


async def test_submit_sync_inside_loop_is_refused(tmp_path: Path) -> None:
    d = make_dispatcher(tmp_path, {})
    with pytest.raises(RuntimeError):
        d.submit_sync(make_alert())
    d.close()


def test_acknowledge_via_dispatcher(tmp_path: Path, receiver_factory) -> None:
    rx = receiver_factory()
    d = make_dispatcher(tmp_path, {"webhook": WebhookChannel(rx.url, "k", retry=FAST)})
    first = d.submit_sync(make_alert(minute=0, observed=100))
    assert d.acknowledge(first.incident_id, by="dana")
    assert d.submit_sync(make_alert(minute=1, observed=150)) is None
    assert d.submit_sync(make_alert(minute=2, observed=250)) is not None
    assert len(rx.requests) == 2
    d.close()


def test_from_settings_builds_configured_channels(tmp_path: Path, receiver_factory) -> None:
    rx = receiver_factory()
    settings = load_settings(webhook_url=rx.url, webhook_secret="k", brands_file=FIXTURES / "brands.yaml",
                             topics_file=FIXTURES / "topics.yaml")
    d = AlertDispatcher.from_settings(settings, tmp_path / "state")
    assert set(d.channels) == {"webhook"}
    assert (tmp_path / "state" / "outbox.sqlite3").exists()
    out = d.submit_sync(make_alert(subject_id="orphan"))
    assert out is not None and out.owners == ["pr-desk"] and len(rx.requests) == 1
    d.close()
