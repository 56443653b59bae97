"""The wall clock: the one definition of "now" (timezone-aware UTC) for every module."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now(*, whole_seconds: bool = False) -> datetime:
    """Current time in UTC, timezone-aware.

    ``whole_seconds`` drops the microseconds: the precision of ClickHouse ``DateTime`` columns, for
    a value that is stored and later compared with what was read back.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=0) if whole_seconds else now
