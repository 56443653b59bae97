"""Outbox: durable rows, backoff, give-up, requeue, newer versions replace waiting ones."""

from __future__ import annotations

from pathlib import Path

from alerts_support import FakeClock, make_alert

from pipeline.alerts.outbox import Outbox


def test_backoff_retry_after_and_give_up(tmp_path: Path) -> None:
    clock = FakeClock()
    ob = Outbox(tmp_path / "o.sqlite3", max_attempts=3, backoff_initial_s=10, clock=clock)
    entry_id = ob.add(make_alert(), "webhook", ["default"])
    assert [e.id for e in ob.due()] == [entry_id]
    assert ob.mark_failed(entry_id, "HTTP 503", retryable=True) == "pending"
    assert ob.due() == []  # waits ~10 s (±20 %)
    clock.advance(13)
    assert [e.id for e in ob.due()] == [entry_id]
    assert ob.mark_failed(entry_id, "HTTP 429", retryable=True, retry_after=120) == "pending"
    clock.advance(60)
    assert ob.due() == []  # Retry-After beats the 20 s backoff
    clock.advance(61)
    assert ob.mark_failed(entry_id, "HTTP 503", retryable=True) == "failed"  # third attempt: give up
    clock.advance(10_000)
    assert ob.due() == [] and ob.count("failed") == 1
    (e,) = ob.entries()
    assert e.attempts == 3 and e.last_error == "HTTP 503"
    assert ob.requeue() == 1 and [x.id for x in ob.due()] == [entry_id]


def test_non_retryable_fails_at_once_and_narrows_recipients(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite3")
    entry_id = ob.add(make_alert(), "email", ["a@example.com", "b@example.com"])
    assert ob.mark_failed(entry_id, "550", retryable=False, recipients=["b@example.com"]) == "failed"
    assert ob.get(entry_id).recipients == ["b@example.com"]


def test_newer_version_replaces_waiting_row_and_rows_survive_reopen(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite3")
    first = ob.add(make_alert(observed=100), "slack", ["default"])
    again = ob.add(make_alert(observed=300, severity="critical"), "slack", ["default"])
    assert first == again and ob.count() == 1
    ob.close()
    ob2 = Outbox(tmp_path / "o.sqlite3")
    (e,) = ob2.entries()
    assert e.alert.severity == "critical" and e.alert.observed == 300
    ob2.mark_delivered(e.id)
    assert ob2.count() == 0 and ob2.get(e.id) is None
