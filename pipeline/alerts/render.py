"""Human-readable renderings of an :class:`~pipeline.core.schema.Alert`: summary line, Slack Block Kit, e-mail.

Pure functions (no I/O), shared by the channels and unit-tested on their own.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote, urlencode

from pipeline.alerts import escape
from pipeline.core.schema import Alert, SamplePost, Subject

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
"""Order of :data:`pipeline.core.schema.Severity` values (higher is worse)."""

SEVERITY_EMOJI: dict[str, str] = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
SEVERITY_COLOR: dict[str, str] = {"info": "#439FE0", "warning": "#ECB22E", "critical": "#E01E5A"}
KIND_TITLE: dict[str, str] = {
    "negative_spike": "Negative spike",
    "rising_voice": "Rising voice",
    "voice_negative": "Your voice turned negative",
    "owner_digest": "Your voices",
}
MAX_EVIDENCE_ITEMS = 5
MAX_KEY_TERMS = 10
MAX_SAMPLE_CHARS = 200
_SLACK_TEXT_LIMIT = 2900  # section text is limited to 3000 characters
_SLACK_FIELD_LIMIT = 1900  # section fields: 2000 characters each


CONTEXT_WINDOWS_BEFORE = 5
"""The brand view opened from an alert shows this many window lengths before the spike, so the
usual level it is compared with is on the chart too (and one window after it)."""


def _link_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def dashboard_url(public_url: str, alert: Alert) -> str:
    """Where the alert is explained in the dashboard. A brand's alert opens the brand view around
    the alert's window with the spike marked (``#/brands/{id}?from=&to=&alert={id}``); others
    open the alert itself (``#/alerts/{id}``)."""
    brand = alert.subject.brand_id or (alert.subject.id if alert.subject.kind == "brand" else None)
    path = dashboard_path(alert.id, None if is_digest(alert) else brand, alert.window.start, alert.window.end)
    return f"{public_url.rstrip('/')}/{path}"


def dashboard_path(alert_id: str, brand: str | None, start: datetime, end: datetime) -> str:
    """The dashboard route of an alert (see :func:`dashboard_url`); ``brand`` None: the alert itself."""
    if not brand:
        return f"#/alerts/{quote(alert_id, safe='')}"
    span = end - start
    query = urlencode({"from": _link_time(start - CONTEXT_WINDOWS_BEFORE * span),
                       "to": _link_time(end + span), "alert": alert_id}, safe=":")
    return f"#/brands/{quote(brand, safe='')}?{query}"


def subject_label(subject: Subject, names: Mapping[str, str] | None = None) -> str:
    """``Nimbus Air`` for a brand, ``Nimbus Air / Delays`` for a brand+topic, ``author x (Nimbus Air)``..."""
    names = names or {}
    brand = subject.brand_id or (subject.id if subject.kind == "brand" else None)
    topic = subject.topic_id or (subject.id if subject.kind == "topic" else None)
    brand_name = names.get(f"brand:{brand}", brand) if brand else None
    topic_name = names.get(f"topic:{topic}", topic) if topic else None
    context = " / ".join(x for x in (brand_name, topic_name) if x)
    if subject.kind in ("brand", "topic", "brand_topic"):
        return context or subject.id
    return f"{subject.kind} {subject.id}" + (f" ({context})" if context else "")


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.3g}" if abs(x) < 1 else f"{x:,.1f}"


def multiplier(observed: float, expected: float) -> str:
    """The one multiplier shown everywhere: ``10x`` (whole from 10x up), ``3.4x``, or ``new``
    when nothing was expected."""
    if expected <= 0:
        return "new"
    ratio = observed / expected
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def ratio_text(alert: Alert) -> str:
    """``7.9x usual`` or ``no usual level`` when nothing was expected."""
    m = multiplier(alert.observed, alert.expected)
    return "no usual level" if m == "new" else f"{m} usual"


def usual_text(alert: Alert) -> str:
    """The usual level as the headline shows it, with the multiplier: ``21 (10x usual)``."""
    shown = _usual(alert.expected) if alert.kind == "negative_spike" else _num(alert.expected)
    return f"{shown} ({ratio_text(alert)})"


def window_phrase(seconds: float) -> str:
    """``the last minute``, ``the last 15 minutes``, ``the last hour``, ``the last 2 hours``."""
    minutes = seconds / 60
    if minutes < 60:
        n = round(minutes)
        return "the last minute" if n <= 1 else f"the last {n} minutes"
    hours = minutes / 60
    if abs(hours - 1) < 1e-9:
        return "the last hour"
    return f"the last {hours:g} hours" if hours.is_integer() else f"the last {hours:.1f} hours"


def spike_sentence(observed: float, expected: float, window_s: float) -> str:
    """``214 negative mentions in the last hour vs 21 usual (10x)``: both counts over the window."""
    return (f"{_num(round(observed))} negative mentions in {window_phrase(window_s)} vs "
            f"{_usual(expected)} usual ({multiplier(observed, expected)})")


def _usual(expected: float) -> str:
    return _num(round(expected)) if expected >= 10 else f"{expected:.1f}".rstrip("0").rstrip(".") or "0"


def _window_s(alert: Alert) -> float:
    return (alert.window.end - alert.window.start).total_seconds()


def is_digest(alert: Alert) -> bool:
    """An alert whose explanation is its content: a rising-voices digest
    (``pipeline.detect.voice_digest``), a rostered voice's negative post or an owner's digest
    (``pipeline.relationships``)."""
    if alert.kind in ("voice_negative", "owner_digest"):
        return bool(alert.explanation)
    return alert.kind == "rising_voice" and alert.subject.id.startswith("voices:") and bool(alert.explanation)


def summary_line(alert: Alert, names: Mapping[str, str] | None = None) -> str:
    """One line: severity, kind, subject and the evidence in the user's units (a digest: its headline)."""
    if is_digest(alert):
        return f"{alert.severity.upper()} {alert.explanation.splitlines()[0].rstrip(':')}"
    head = f"{alert.severity.upper()} {KIND_TITLE.get(alert.kind, alert.kind)}: {subject_label(alert.subject, names)}"
    if alert.kind == "negative_spike":
        return f"{head}: {spike_sentence(alert.observed, alert.expected, _window_s(alert))}"
    return f"{head}: observed {_num(alert.observed)} vs expected {_num(alert.expected)} ({ratio_text(alert)})"


def handle(author: str) -> str:
    """``@name`` for an author handle (kept as is when it already starts with ``@``)."""
    return author if not author or author.startswith("@") else f"@{author}"


def email_subject(alert: Alert, names: Mapping[str, str] | None = None) -> str:
    """``[hypermicro] CRITICAL Negative spike: Nimbus Air (nimbus)``."""
    if is_digest(alert):
        return f"[hypermicro] {summary_line(alert, names)}"
    label = subject_label(alert.subject, names)
    brand = alert.subject.brand_id or (alert.subject.id if alert.subject.kind == "brand" else None)
    if brand and brand not in label:
        label += f" ({brand})"
    return escape.header_text(f"[hypermicro] {alert.severity.upper()} {KIND_TITLE.get(alert.kind, alert.kind)}: {label}")


def window_text(alert: Alert) -> str:
    """``2026-02-01 13:00 – 14:00 UTC`` (the dates of both ends when they differ)."""
    start, end = alert.window.start, alert.window.end
    tail = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {tail} UTC"


_PLAIN_ROWS = ("Sample posts", "Top authors")
_slack_escape = escape.slack_text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_text(sample: SamplePost) -> str:
    """``@handle: the post's text`` on one line, clipped (the link is shown beside it)."""
    text = _clip(" ".join(sample.text.split()), MAX_SAMPLE_CHARS)
    return f"{handle(sample.author)}: {text}" if sample.author else text


Item = str | tuple[str, str]
"""An evidence item: text, or (text, link to it)."""


def _sample_item(sample: SamplePost) -> Item:
    return (sample_text(sample), sample.url) if sample.url else sample_text(sample)


def _evidence_rows(alert: Alert) -> list[tuple[str, list[Item]]]:
    ev = alert.evidence
    rows: list[tuple[str, list[Item]]] = []
    if ev.key_terms:
        rows.append(("Key terms", list[Item](ev.key_terms[:MAX_KEY_TERMS])))
    if ev.samples:
        rows.append(("Sample posts", [_sample_item(p) for p in ev.samples[:MAX_EVIDENCE_ITEMS]]))
    elif ev.post_ids:
        rows.append(("Top posts", list[Item](ev.post_ids[:MAX_EVIDENCE_ITEMS])))
    if ev.authors:
        rows.append(("Top authors", list[Item](handle(a) for a in ev.authors[:MAX_EVIDENCE_ITEMS])))
    if ev.conversations:
        rows.append(("Conversations", list[Item](ev.conversations[:MAX_EVIDENCE_ITEMS])))
    if ev.links:
        rows.append(("Links", list[Item](ev.links[:MAX_EVIDENCE_ITEMS])))
    return rows


def _slack_item(item: Item, plain: bool = False) -> str:
    if isinstance(item, tuple):
        return f"{_slack_escape(item[0])} {escape.slack_link(item[1])}"
    if plain:
        return _slack_escape(item)
    if item.startswith(("http://", "https://")):
        return escape.slack_link(item)  # the URL itself as the link text: never a disguised link
    return f"`{escape.slack_code(item)}`"


def slack_payload(alert: Alert, public_url: str, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Slack incoming-webhook body: summary section + a severity-coloured attachment with details."""
    emoji = SEVERITY_EMOJI.get(alert.severity, "")
    url = dashboard_url(public_url, alert)
    summary = summary_line(alert, names)
    headline = f"{emoji} *{_slack_escape(summary)}*"
    if alert.explanation:
        headline += "\n" + _slack_escape(alert.explanation)
    fields = [] if is_digest(alert) else [
        {"type": "mrkdwn", "text": f"*Observed*\n{_num(alert.observed)}"},
        {"type": "mrkdwn", "text": f"*Usual*\n{usual_text(alert)}"},
    ]
    fields += [
        {"type": "mrkdwn", "text": f"*Severity*\n{emoji} {alert.severity}"},
        {
            "type": "mrkdwn",
            "text": f"*Window*\n{window_text(alert)}",
        },
    ]
    if alert.evidence.negative_share is not None:
        fields.append({"type": "mrkdwn", "text": f"*Negative share*\n{alert.evidence.negative_share:.0%}"})
    detail: list[dict[str, Any]] = [{"type": "section", "fields": [
        {**f, "text": _clip(f["text"], _SLACK_FIELD_LIMIT)} for f in fields
    ]}]
    for title, items in _evidence_rows(alert):
        sep = " · " if title == "Key terms" else "\n• "
        lead = "" if title == "Key terms" else "• "
        shown = [_slack_item(i, title in _PLAIN_ROWS) for i in items]
        text = f"*{title}*\n{lead}" + sep.join(shown)
        detail.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}})
    detail.append({
        "type": "actions",
        "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in dashboard"},
            "url": url,
            **({"style": "danger"} if alert.severity == "critical" else {}),
        }],
    })
    context = [f"alert `{alert.id}`"]
    if alert.incident_id:
        context.append(f"incident `{alert.incident_id}`")
    if alert.owners:
        context.append("owners: " + ", ".join(_slack_escape(o) for o in alert.owners))
    detail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {
        "text": f"{emoji} {_slack_escape(summary)}",  # notification/fallback text (also mrkdwn)
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(headline, _SLACK_TEXT_LIMIT)}},
        ],
        "attachments": [{"color": SEVERITY_COLOR.get(alert.severity, "#439FE0"), "blocks": detail}],
    }


def email_bodies(alert: Alert, public_url: str, names: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(plain text, HTML) bodies of the alert e-mail."""
    url = dashboard_url(public_url, alert)
    summary = summary_line(alert, names)
    lines = [summary, ""]
    if alert.explanation:
        lines += [alert.explanation, ""]
    lines += [] if is_digest(alert) else [
        f"Observed:  {_num(alert.observed)}",
        f"Usual:     {usual_text(alert)}",
    ]
    lines.append(f"Window:    {window_text(alert)}")
    if alert.owners:
        lines.append(f"Owners:    {', '.join(alert.owners)}")
    if alert.evidence.negative_share is not None:
        lines.append(f"Negative share: {alert.evidence.negative_share:.0%}")
    for title, items in _evidence_rows(alert):
        lines += ["", f"{title}:"]
        for i in items:
            lines += [f"  - {i[0]}", f"    {i[1]}"] if isinstance(i, tuple) else [f"  - {i}"]
    lines += ["", f"Open in dashboard: {url}", f"Alert {alert.id}"]
    if alert.incident_id:
        lines.append(f"Incident {alert.incident_id}")
    text = "\n".join(lines) + "\n"

    e = html.escape
    color = SEVERITY_COLOR.get(alert.severity, "#439FE0")
    parts = [
        f'<div style="border-left:6px solid {color};padding-left:12px;font-family:sans-serif">',
        f"<h2>{e(summary)}</h2>",
    ]
    if alert.explanation:
        parts.append(f"<p>{e(alert.explanation)}</p>")
    parts.append("<table>")
    rows = [] if is_digest(alert) else [
        ("Observed", _num(alert.observed)),
        ("Usual", usual_text(alert)),
    ]
    rows.append(("Window", window_text(alert)))
    if alert.owners:
        rows.append(("Owners", ", ".join(alert.owners)))
    if alert.evidence.negative_share is not None:
        rows.append(("Negative share", f"{alert.evidence.negative_share:.0%}"))
    parts += [f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    for title, items in _evidence_rows(alert):
        lis = "".join(_html_item(i) for i in items)
        parts.append(f"<h3>{e(title)}</h3><ul>{lis}</ul>")
    parts.append(f'<p><a href="{e(url)}">Open in dashboard</a></p>')
    ids = f"Alert {e(alert.id)}" + (f" · incident {e(alert.incident_id)}" if alert.incident_id else "")
    parts.append(f'<p style="color:#888">{ids}</p></div>')
    return text, "\n".join(parts)


def _html_item(item: Item) -> str:
    e = html.escape
    if isinstance(item, tuple):
        link = f' <a href="{e(item[1])}">open post</a>' if item[1].startswith(("http://", "https://")) else ""
        return f"<li>{e(item[0])}{link}</li>"
    if item.startswith(("http://", "https://")):
        return f'<li><a href="{e(item)}">{e(item)}</a></li>'
    return f"<li>{e(item)}</li>"


def email_message(
    alert: Alert, sender: str, recipients: list[str], public_url: str, names: Mapping[str, str] | None = None
) -> EmailMessage:
    """A multipart/alternative (text + HTML) message for ``recipients``."""
    text, html_body = email_bodies(alert, public_url, names)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = email_subject(alert, names)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else None
    msg["Message-ID"] = make_msgid(idstring=alert.id, domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Hypermicro-Alert-Id"] = alert.id
    if alert.incident_id:
        msg["X-Hypermicro-Incident-Id"] = alert.incident_id
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    return msg
