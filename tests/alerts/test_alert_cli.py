"""``hypermicro alerts list|ack|retry`` on a real state directory."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from alerts_support import FIXTURES, Reply, make_alert
from typer.testing import CliRunner

from pipeline.alerts.channels import RetryPolicy, WebhookChannel
from pipeline.alerts.cli import alerts_app
from pipeline.alerts.dispatcher import AlertDispatcher
from pipeline.core.clock import utc_now
from pipeline.core.settings import load_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMICRO_BRANDS_FILE", str(FIXTURES / "brands.yaml"))
    monkeypatch.setenv("HYPERMICRO_TOPICS_FILE", str(FIXTURES / "topics.yaml"))
    monkeypatch.setenv("HYPERMICRO_WEBHOOK_SECRET", "k")


def test_list_ack_retry(tmp_path: Path, receiver_factory, env, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "alerts"
    broken = receiver_factory(default=Reply(503))
    settings = load_settings(webhook_url=broken.url)
    d = AlertDispatcher.from_settings(settings, state)
    d.channels["webhook"] = WebhookChannel(broken.url, "k", retry=RetryPolicy(attempts=1))
    delivered = d.submit_sync(make_alert(base=utc_now() - timedelta(minutes=10)))  # an incident of now: open
    assert delivered is not None and d.outbox.count() == 1
    d.close()
    runner = CliRunner()

    out = runner.invoke(alerts_app, ["list", "--state-dir", str(state)])
    assert out.exit_code == 0, out.output
    assert delivered.incident_id in out.output and "pending" in out.output and "HTTP 503" in out.output

    out = runner.invoke(alerts_app, ["list", "incidents", "--json", "--state-dir", str(state)])
    (row,) = [json.loads(line) for line in out.output.splitlines()]
    assert row["id"] == delivered.incident_id and row["status"] == "open" and row["alert_count"] == 1

    out = runner.invoke(alerts_app, ["ack", delivered.incident_id, "--by", "dana", "--state-dir", str(state)])
    assert out.exit_code == 0 and out.output.strip().endswith(f"acknowledged={delivered.incident_id} by=dana")
    out = runner.invoke(alerts_app, ["list", "incidents", "--status", "acked", "--state-dir", str(state)])
    assert "acked by dana" in out.output
    out = runner.invoke(alerts_app, ["ack", "inc_nope", "--by", "dana", "--state-dir", str(state)])
    assert out.exit_code == 1

    good = receiver_factory()
    monkeypatch.setenv("HYPERMICRO_WEBHOOK_URL", good.url)
    out = runner.invoke(alerts_app, ["retry", "--state-dir", str(state)])
    assert out.exit_code == 0, out.output
    assert out.output.strip().splitlines()[-1] == "attempted=1 delivered=1 failed=0 outbox=0"
    assert len(good.requests) == 1

    out = runner.invoke(alerts_app, ["list", "outbox", "--json", "--state-dir", str(state)])
    assert out.output.strip() == ""


def test_retry_failure_exits_nonzero(tmp_path: Path, receiver_factory, env, monkeypatch) -> None:
    state = tmp_path / "alerts"
    rejecting = receiver_factory(default=Reply(400))
    monkeypatch.setenv("HYPERMICRO_WEBHOOK_URL", rejecting.url)
    d = AlertDispatcher.from_settings(load_settings(), state)
    d.submit_sync(make_alert())
    assert d.outbox.count("failed") == 1
    d.close()
    out = CliRunner().invoke(alerts_app, ["retry", "--state-dir", str(state)])
    assert out.exit_code == 1 and "attempted=1 delivered=0 failed=1 outbox=1" in out.output
