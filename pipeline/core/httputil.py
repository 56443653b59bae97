"""Small HTTP helpers shared by connectors and alert channels."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime | float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), ``None`` if absent/bad.

    ``now`` (a datetime or epoch seconds) is the reference time for HTTP-dates.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ref = time.time() if now is None else now.timestamp() if isinstance(now, datetime) else float(now)
    return max(0.0, when.timestamp() - ref)
