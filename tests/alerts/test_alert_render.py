"""What a person reads: the same spike rendered for the webhook, Slack and e-mail.

Snapshot tests: the rendered payloads are compared with ``tests/fixtures/alerts/rendered/``.
After an intended change of wording, regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/alerts``
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.alerts import render
from pipeline.core.schema import Alert, AlertWindow, Evidence, SamplePost, Subject

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "alerts" / "rendered"
AT = datetime(2026, 2, 3, 14, 0, tzinfo=UTC)
NAMES = {"brand:nimbus": "Nimbus Air"}


def spike() -> Alert:
    start = AT - timedelta(hours=1)
    return Alert(
        id=Alert.make_id("negative_spike", "brand:nimbus|3600", start), kind="negative_spike",
        subject=Subject(kind="brand", id="nimbus", brand_id="nimbus"), severity="critical", score=3.4,
        window=AlertWindow(start=start, end=AT), observed=214, expected=21.3,
        explanation=render.spike_sentence(214, 21.3, 3600) + "; negative share 64% vs 18% usual.",
        evidence=Evidence(
            post_ids=["mastodon:1", "bluesky:2"],
            samples=[SamplePost(id="mastodon:1", author="angry_flyer", url="https://social.example/@angry_flyer/1",
                                text="Third time @NimbusAir lost my luggage.\nRefund NOW"),
                     SamplePost(id="bluesky:2", author="travelwriter.bsky.social", text="Nimbus strike: 40 flights cancelled")],
            authors=["@angry_flyer", "@travelwriter.bsky.social"], key_terms=["luggage", "strike", "refund"],
            negative_share=0.64, links=["https://dash.example/#/posts?brand=nimbus&sentiment=negative"],
        ),
        created_at=AT + timedelta(minutes=2), incident_id="inc_0123456789abcdef", owners=["comms-nimbus@example.com"],
    )


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


def test_headline_says_it_in_the_users_units() -> None:
    line = render.summary_line(spike(), NAMES)
    assert line == "CRITICAL Negative spike: Nimbus Air: 214 negative mentions in the last hour vs 21 usual (10x)"
    assert spike().explanation.startswith("214 negative mentions in the last hour vs 21 usual (10x)")


@pytest.mark.parametrize(("observed", "expected", "window_s", "sentence"), [
    (12, 3.0, 300, "12 negative mentions in the last 5 minutes vs 3 usual (4.0x)"),
    (40, 0.4, 900, "40 negative mentions in the last 15 minutes vs 0.4 usual (100x)"),
    (9, 0.0, 60, "9 negative mentions in the last minute vs 0 usual (new)"),
    (500, 50, 7200, "500 negative mentions in the last 2 hours vs 50 usual (10x)"),
])
def test_spike_sentence(observed: float, expected: float, window_s: int, sentence: str) -> None:
    assert render.spike_sentence(observed, expected, window_s) == sentence


def test_webhook_payload_snapshot() -> None:
    check("webhook.json", json.dumps(json.loads(spike().model_dump_json()), indent=2, sort_keys=True) + "\n")


def test_slack_payload_snapshot() -> None:
    payload = render.slack_payload(spike(), "https://dash.example/", NAMES)
    check("slack.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def test_email_snapshot() -> None:
    text, html_body = render.email_bodies(spike(), "https://dash.example/", NAMES)
    check("email.txt", f"Subject: {render.email_subject(spike(), NAMES)}\n\n{text}")
    check("email.html", html_body + "\n")


MULTIPLIER = re.compile(r"\b\d+(?:\.\d+)?x\b")


def test_every_channel_shows_post_texts_handles_and_one_multiplier() -> None:
    """The issue's e-mail said "101.7x expected" and "27.9x" for one spike; post ids, not texts."""
    alert = spike()
    text, html_body = render.email_bodies(alert, "https://dash.example/", NAMES)
    slack = json.dumps(render.slack_payload(alert, "https://dash.example/", NAMES), ensure_ascii=False)
    webhook = alert.model_dump_json()
    for rendered in (text, html_body, slack):
        assert "@angry_flyer: Third time @NimbusAir lost my luggage. Refund NOW" in rendered
        assert "https://social.example/@angry_flyer/1" in rendered
        assert "mastodon:1" not in rendered  # texts, not ids
        assert set(MULTIPLIER.findall(rendered)) == {"10x"}
    assert set(MULTIPLIER.findall(json.loads(webhook)["explanation"])) == {"10x"}
    assert json.loads(webhook)["evidence"]["samples"][0]["author"] == "angry_flyer"


def test_dashboard_link_opens_the_brand_view_around_the_alert_window() -> None:
    url = render.dashboard_url("https://dash.example/", spike())
    assert url == ("https://dash.example/#/brands/nimbus?from=2026-02-03T08:00Z&to=2026-02-03T15:00Z"
                   f"&alert={spike().id}")
    digest = spike().model_copy(update={"kind": "rising_voice", "subject": Subject(kind="author", id="voices:nimbus"),
                                        "explanation": "3 rising voices:"})
    assert render.dashboard_url("https://dash.example", digest) == f"https://dash.example/#/alerts/{spike().id}"
