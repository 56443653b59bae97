"""Validation of API inputs: identifiers, free text, time ranges and opaque pagination cursors.

Everything here is framework-free; violations raise :class:`ApiError`, which the app turns into
``{"error": ..., "detail": ...}`` JSON with the given status.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.core.bounds import MAX_ID_CHARS
from pipeline.storage.backend import whole_seconds

ID_PATTERN = r"^[\w*@#][\w .:@#|*+/'-]{0,199}$"
"""Brand, topic, subject and author ids/handles: word characters and a few separators, 1..200."""
ALERT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
LANGUAGE_PATTERN = r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})?|und)$"
MAX_TEXT_QUERY = 200
MAX_SPAN = timedelta(days=90)
MAX_POINTS = 2000
MIN_TIME = datetime(1970, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(2105, 12, 31, tzinfo=UTC)
INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
WINDOWS: dict[str, int] = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CURSOR_MAX = 8192
"""A cursor holds any post id accepted at the door (MAX_ID_CHARS, even all 4-byte or escaped
characters: 6 bytes each in JSON) in base64; 8 kB fits every server's URL limit."""


class ApiError(Exception):
    """An error answered as ``{"error": message, "detail": detail}`` with ``status``."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def invalid(param: str, message: str) -> ApiError:
    """A 422 naming the offending parameter, shaped like the framework's validation errors."""
    return ApiError(422, "invalid request", [{"in": "query", "param": param, "message": message}])


def check_text(param: str, value: str | None) -> str | None:
    """Free text (search): no control characters (NUL, tabs, newlines), at most 200 characters."""
    if value is None:
        return None
    if _CONTROL.search(value):
        raise invalid(param, "control characters are not allowed")
    if not value.strip():
        raise invalid(param, "must not be blank")
    if len(value) > MAX_TEXT_QUERY:
        raise invalid(param, f"at most {MAX_TEXT_QUERY} characters")
    return value


def as_utc(value: datetime | None, param: str) -> datetime | None:
    """Aware UTC datetime truncated to seconds, within ClickHouse ``DateTime`` range."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not (MIN_TIME <= value <= MAX_TIME):
        raise invalid(param, "outside the supported range 1970-01-02 .. 2105-12-31")
    return whole_seconds(value)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def time_range(start: datetime | None, end: datetime | None, default_end: datetime,
               default_span: timedelta = timedelta(hours=24)) -> TimeRange:
    """Resolve ``from``/``to`` (either may be missing) into a checked, bounded range."""
    s, e = as_utc(start, "from"), as_utc(end, "to")
    if e is None:
        e = default_end if s is None or s < default_end else s + default_span
    if s is None:
        s = e - default_span
    return check_range(s, e)


def check_range(s: datetime, e: datetime) -> TimeRange:
    if s >= e:
        raise invalid("from", "'from' must be before 'to'")
    if e - s > MAX_SPAN:
        raise invalid("to", f"time range longer than {MAX_SPAN.days} days")
    return TimeRange(s, e)


def optional_range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Open-ended filter range: each bound optional; when both are given they must form a valid range."""
    s, e = as_utc(start, "from"), as_utc(end, "to")
    if s is not None and e is not None:
        check_range(s, e)
    return s, e


def pick_interval(seconds: int, interval: str | None, target_points: int = 200) -> int:
    """Bucket width in seconds: the one asked for (bounded number of points) or the finest fitting."""
    if interval is None:
        for step in sorted(INTERVALS.values()):
            if seconds / step <= target_points:
                return step
        return max(INTERVALS.values())
    step = INTERVALS[interval]
    if seconds / step > MAX_POINTS:
        raise invalid("interval", f"more than {MAX_POINTS} points; choose a wider interval or a shorter range")
    return step


@dataclass(frozen=True)
class Cursor:
    """Keyset position (``created_at``, ``id``) of the last row of a page, descending order."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = orjson.dumps({"v": 1, "t": int(self.created_at.timestamp()), "i": self.id})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, id_pattern: str = rf"(?s)^[^\x00]{{1,{MAX_ID_CHARS}}}$") -> Cursor | None:
        if token is None:
            return None
        if len(token) > CURSOR_MAX or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
            raise invalid("cursor", "malformed cursor")
        try:
            doc = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
            raise invalid("cursor", "malformed cursor") from exc
        if (not isinstance(doc, dict) or doc.get("v") != 1 or type(doc.get("t")) is not int
                or not isinstance(doc.get("i"), str) or not re.fullmatch(id_pattern, doc["i"])):
            raise invalid("cursor", "malformed cursor")
        if not (MIN_TIME.timestamp() <= doc["t"] <= MAX_TIME.timestamp()):
            raise invalid("cursor", "malformed cursor")
        return cls(datetime.fromtimestamp(doc["t"], UTC), doc["i"])
