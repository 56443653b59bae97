"""Escaping of user-controlled strings (handles, post ids, terms, links, explanations) for each
place an alert is rendered. Everything in an alert's subject and evidence comes from posts,
i.e. from whoever controls a subscribed account or feed.
"""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_URL_SAFE = re.compile(r"^https?://[^\s<>|`]+$")


def slack_text(text: str) -> str:
    """Slack mrkdwn text: ``&``, ``<``, ``>`` escaped (Slack's three control characters), so
    ``<!channel>``, ``<@U123>`` and ``<https://x|disguised link>`` show as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_code(text: str) -> str:
    """Text for a Slack inline code span: escaped, and a backtick cannot end the span early."""
    return slack_text(text).replace("`", "'")


def slack_link(url: str) -> str:
    """A plain http(s) URL as a Slack link showing the URL itself; anything else as code."""
    if _URL_SAFE.match(url):
        return f"<{slack_text(url)}>"
    return f"`{slack_code(url)}`"


def html_text(text: str) -> str:
    """HTML element or attribute text (quotes included)."""
    return html.escape(text, quote=True)


def header_text(text: str) -> str:
    """One-line text for a mail header: control characters (CR, LF...) become a space."""
    return _CONTROL.sub(" ", text)
