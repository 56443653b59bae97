"""Channels against local receivers: signed webhook, retries, Retry-After, Slack, SMTP."""

from __future__ import annotations

import email
import hashlib
import hmac
import html
import json
import time
from email.message import Message

import pytest
from alerts_support import Reply, make_alert

from pipeline.alerts import render
from pipeline.alerts.channels import (
    AlertDeliveryError,
    EmailChannel,
    RetryPolicy,
    SlackChannel,
    SmtpConfig,
    WebhookChannel,
    parse_retry_after,
    verify_signature,
)
from pipeline.core.schema import Alert

FAST = RetryPolicy(attempts=4, initial_s=0.01, max_s=0.05, jitter_s=0.01)
SECRET = "s3cret-key"


async def test_webhook_body_is_signed_alert_json_receiver_can_verify(receiver_factory) -> None:
    rx = receiver_factory()
    alert = make_alert()
    await WebhookChannel(rx.url, SECRET, retry=FAST).deliver(alert, [])
    (req,) = rx.requests
    # What a receiver does: HMAC "<timestamp>." + raw body with the shared secret and compare.
    ts = req.headers["X-Hypermicro-Timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + req.body, hashlib.sha256).hexdigest()
    sig = req.headers["X-Hypermicro-Signature"]
    assert sig == expected
    assert verify_signature(SECRET, req.body, sig, ts)
    assert not verify_signature("other-secret", req.body, sig, ts)
    assert not verify_signature(SECRET, req.body + b" ", sig, ts)
    assert not verify_signature(SECRET, req.body, sig, str(int(ts) + 1))  # the timestamp is signed
    assert not verify_signature(SECRET, req.body, sig, ts, now=int(ts) + 3600)  # a captured request goes stale
    assert req.headers["Idempotency-Key"] == alert.id
    assert abs(int(req.headers["X-Hypermicro-Timestamp"]) - time.time()) < 60
    assert req.headers["Content-Type"] == "application/json"
    assert Alert.model_validate_json(req.body) == alert


async def test_webhook_retries_on_500_then_succeeds(receiver_factory) -> None:
    rx = receiver_factory([Reply(500), Reply(503)])
    alert = make_alert()
    await WebhookChannel(rx.url, SECRET, retry=FAST).deliver(alert, [])
    assert len(rx.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in rx.requests} == {alert.id}


async def test_webhook_honours_retry_after(receiver_factory) -> None:
    rx = receiver_factory([Reply(429, {"Retry-After": "1"})])
    await WebhookChannel(rx.url, SECRET, retry=FAST).deliver(make_alert(), [])
    first, second = rx.requests
    # the backoff alone would wait ~0.02 s; the receiver asked for 1 s
    assert second.at - first.at >= 0.95


async def test_webhook_long_retry_after_leaves_it_to_the_outbox(receiver_factory) -> None:
    rx = receiver_factory(default=Reply(503, {"Retry-After": "600"}))
    with pytest.raises(AlertDeliveryError) as err:
        await WebhookChannel(rx.url, SECRET, retry=FAST).deliver(make_alert(), [])
    assert len(rx.requests) == 1
    assert err.value.retryable and err.value.retry_after == pytest.approx(600)


async def test_webhook_no_retry_on_4xx(receiver_factory) -> None:
    rx = receiver_factory(default=Reply(404, body=b"no such hook"))
    with pytest.raises(AlertDeliveryError) as err:
        await WebhookChannel(rx.url, SECRET, retry=FAST).deliver(make_alert(), [])
    assert len(rx.requests) == 1
    assert not err.value.retryable
    assert "404" in str(err.value)


async def test_webhook_retries_timeouts_and_gives_up_retryable(receiver_factory) -> None:
    rx = receiver_factory([Reply(delay_s=1.0)])
    channel = WebhookChannel(rx.url, SECRET, timeout_s=0.2, retry=FAST)
    await channel.deliver(make_alert(), [])  # first attempt times out, second succeeds
    assert len(rx.requests) == 2

    rx2 = receiver_factory(default=Reply(delay_s=1.0))
    with pytest.raises(AlertDeliveryError) as err:
        await WebhookChannel(rx2.url, SECRET, timeout_s=0.2, retry=RetryPolicy(attempts=2, initial_s=0.01)).deliver(
            make_alert(), [])
    assert err.value.retryable and len(rx2.requests) == 2


async def test_webhook_connection_refused_is_retryable() -> None:
    from tests.ports import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(AlertDeliveryError) as err:
        await WebhookChannel(url, SECRET, retry=RetryPolicy(attempts=2, initial_s=0.01)).deliver(make_alert(), [])
    assert err.value.retryable


async def test_webhook_multiple_targets_reports_only_failed_ones(receiver_factory) -> None:
    ok, bad = receiver_factory(), receiver_factory(default=Reply(400))
    with pytest.raises(AlertDeliveryError) as err:
        await WebhookChannel(ok.url, SECRET, retry=FAST).deliver(make_alert(), ["default", bad.url])
    assert len(ok.requests) == 1 and len(bad.requests) == 1
    assert err.value.failed_recipients == [bad.url] and not err.value.retryable


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 30) == pytest.approx(30)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_slack_block_kit_payload(receiver_factory) -> None:
    rx = receiver_factory()
    alert = make_alert(severity="critical", observed=160, expected=20).model_copy(
        update={"incident_id": "inc_abc", "owners": ["comms-nimbus@example.com"]})
    names = {"brand:nimbus": "Nimbus Air"}
    await SlackChannel(rx.url, "https://dash.example/", names=names, retry=FAST).deliver(alert, [])
    payload = json.loads(rx.requests[0].body)
    assert payload["text"].startswith(":rotating_light: CRITICAL Negative spike: Nimbus Air")
    summary = payload["blocks"][0]
    assert summary["type"] == "section"
    assert "160 negative mentions in the last 5 minutes vs 20 usual (8.0x)" in summary["text"]["text"]
    (att,) = payload["attachments"]
    assert att["color"] == "#E01E5A"
    blocks = att["blocks"]
    fields = " ".join(f["text"] for f in blocks[0]["fields"])
    assert "*Observed*\n160" in fields and "*Usual*\n20 (8.0x usual)" in fields and "72%" in fields
    texts = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b)
    assert "*Top posts*\n• `mastodon:1`\n• `bluesky:2`" in texts
    assert "*Links*" in texts and "<https://social.example/@angry_flyer/1>" in texts
    assert "*Top authors*\n• @angry_flyer\n• @travelwriter" in texts
    assert "*Key terms*" in texts and "`lost luggage`" in texts
    (button,) = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert button["url"].startswith("https://dash.example/#/brands/nimbus?from=") and f"alert={alert.id}" in button["url"]
    context = next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]
    assert "inc_abc" in context and "comms-nimbus@example.com" in context


async def test_slack_escapes_mrkdwn_and_severity_colours(receiver_factory) -> None:
    rx = receiver_factory()
    alert = make_alert(severity="info", key_terms=["<script>&"]).model_copy(update={"explanation": "a <b> & c"})
    await SlackChannel(rx.url, "http://d", retry=FAST).deliver(alert, [])
    payload = json.loads(rx.requests[0].body)
    assert payload["attachments"][0]["color"] == "#439FE0"
    body = json.dumps(payload)
    assert "<script>" not in body and "&lt;script&gt;&amp;" in body and "a &lt;b&gt; &amp; c" in body


async def test_slack_invalid_payload_is_not_retried(receiver_factory) -> None:
    rx = receiver_factory(default=Reply(400, body=b"invalid_payload"))
    with pytest.raises(AlertDeliveryError) as err:
        await SlackChannel(rx.url, "http://d", retry=FAST).deliver(make_alert(), [])
    assert "invalid_payload" in str(err.value) and not err.value.retryable and len(rx.requests) == 1


def _parts(msg: Message) -> dict[str, str]:
    return {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}


async def test_email_received_by_smtp_server(smtp_server) -> None:
    controller, sink = smtp_server
    cfg = SmtpConfig(host=controller.hostname, port=controller.port, sender="alerts@hypermicro.example")
    alert = make_alert(severity="critical").model_copy(update={"incident_id": "inc_1"})
    channel = EmailChannel(cfg, "https://dash.example", names={"brand:nimbus": "Nimbus Air"}, retry=FAST)
    await channel.deliver(alert, ["comms-nimbus@example.com", "pr@example.com"])
    (env,) = sink.envelopes
    assert sorted(env.rcpt_tos) == ["comms-nimbus@example.com", "pr@example.com"]
    msg = email.message_from_bytes(env.content)
    assert "CRITICAL" in msg["Subject"] and "Nimbus Air" in msg["Subject"] and "nimbus" in msg["Subject"]
    assert msg["X-Hypermicro-Alert-Id"] == alert.id and msg["X-Hypermicro-Incident-Id"] == "inc_1"
    parts = _parts(msg)
    assert set(parts) == {"text/plain", "text/html"}
    link = render.dashboard_url("https://dash.example", alert)  # the brand view at the alert's window
    assert "#/brands/nimbus?from=" in link and link in parts["text/plain"] and html.escape(link) in parts["text/html"]
    assert "lost luggage" in parts["text/plain"] and "<li>lost luggage</li>" in parts["text/html"]


async def test_email_refused_recipient(smtp_server) -> None:
    controller, sink = smtp_server
    sink.refuse["gone@example.com"] = "550 5.1.1 no such user"
    cfg = SmtpConfig(host=controller.hostname, port=controller.port)
    channel = EmailChannel(cfg, "http://d", retry=FAST)
    with pytest.raises(AlertDeliveryError) as err:
        await channel.deliver(make_alert(), ["ok@example.com", "gone@example.com"])
    assert err.value.failed_recipients == ["gone@example.com"] and not err.value.retryable
    assert [e.rcpt_tos for e in sink.envelopes] == [["ok@example.com"]]  # the others got it once


async def test_email_unreachable_server_is_retryable() -> None:
    from tests.ports import free_port

    channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=free_port(), timeout_s=1),
                           "http://d", retry=RetryPolicy(attempts=2, initial_s=0.01))
    with pytest.raises(AlertDeliveryError) as err:
        await channel.deliver(make_alert(), ["a@example.com"])
    assert err.value.retryable
