"""Small text helpers shared by built-in connectors."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|p)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")


def html_to_text(value: str | None) -> str:
    """Plain text from an HTML fragment: breaks become newlines, tags dropped, entities decoded."""
    if not value:
        return ""
    text = _BREAK.sub("\n", value)
    text = html.unescape(_TAG.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
