"""Finding 5 for alerts: user-controlled strings (handles, links, subject ids) cannot become
Slack mentions, disguised links, HTML or mail headers; webhook delivery refuses to run unsigned
unless explicitly allowed."""

from __future__ import annotations

import json

import pytest

from pipeline.alerts import escape, render
from pipeline.alerts.channels import WebhookChannel
from pipeline.alerts.dispatcher import channels_from_settings
from pipeline.core.settings import load_settings
from tests.alerts.alerts_support import make_alert

PHISH = "https://evil.example/login|Open incident in dashboard"
HOSTILE = {
    "authors": ["<!channel>", "<@U0123> `code` <https://evil.example/login|Open incident in dashboard>", "a&b"],
    "links": [PHISH, "https://x.example/> <!channel> <https://evil.example|click", "https://ok.example/p/1"],
    "key_terms": ["<!here>", "</b><script>alert(1)</script>"],
}


def _mrkdwn_texts(payload: dict) -> list[str]:
    out = [payload["text"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    return out


def test_slack_renders_hostile_strings_as_text() -> None:
    alert = make_alert(subject_kind="author", subject_id="<!channel> mastodon:1", **HOSTILE)
    texts = _mrkdwn_texts(render.slack_payload(alert, "https://dash.example"))
    joined = "\n".join(texts)
    assert "<!channel>" not in joined and "<!here>" not in joined and "<@U0123>" not in joined
    assert "<https://evil" not in joined  # no disguised link: the phishing "link" shows as code
    links = [t for t in joined.split() if t.startswith("<http")]
    assert links == ["<https://ok.example/p/1>"]  # the only real link is a plain URL showing itself
    assert "&lt;!channel&gt;" in joined  # still readable to the comms team


def test_email_escapes_html_and_headers() -> None:
    alert = make_alert(subject_kind="author", subject_id="x\r\nBcc: attacker@evil.example", **HOSTILE)
    text, html_body = render.email_bodies(alert, "https://dash.example")
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    assert 'href="https://evil.example' not in html_body.replace('href="https://evil.example/login|', "")
    msg = render.email_message(alert, "hm@example.org", ["comms@example.org"], "https://dash.example")
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]


def test_escape_helpers() -> None:
    assert escape.slack_text("<!channel> & <b>") == "&lt;!channel&gt; &amp; &lt;b&gt;"
    assert escape.slack_link(PHISH) == f"`{escape.slack_code(PHISH)}`"
    assert escape.slack_link("https://ok.example/a?b=1&c=2") == "<https://ok.example/a?b=1&amp;c=2>"
    assert escape.header_text("a\r\nb") == "a b"


def test_webhook_delivery_without_secret_is_refused_unless_allowed(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="HYPERMICRO_WEBHOOK_SECRET"):
        WebhookChannel("http://127.0.0.1:9/hook", "")
    with pytest.raises(ValueError, match="signing secret"):
        channels_from_settings(load_settings(webhook_url="http://127.0.0.1:9/hook", webhook_secret=""))
    allowed = channels_from_settings(load_settings(webhook_url="http://127.0.0.1:9/hook", webhook_secret="",
                                                   webhook_allow_unsigned=True))
    assert isinstance(allowed["webhook"], WebhookChannel)


async def test_outbound_alert_signature_covers_timestamp(receiver_factory) -> None:  # noqa: ANN001
    from pipeline.core.signing import ReplayGuard, SignatureError, verify

    rx = receiver_factory()
    await WebhookChannel(rx.url, "k").deliver(make_alert(), [])
    (req,) = rx.requests
    ts = verify("k", req.body, req.headers["X-Hypermicro-Signature"], req.headers["X-Hypermicro-Timestamp"])
    guard = ReplayGuard()
    guard.claim(req.headers["X-Hypermicro-Signature"], ts)
    with pytest.raises(SignatureError) as err:  # what a receiver does with a captured copy
        guard.claim(req.headers["X-Hypermicro-Signature"], ts)
    assert err.value.status == 409
    assert json.loads(req.body)["id"]
