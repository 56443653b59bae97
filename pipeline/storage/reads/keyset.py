"""Keyset pagination: where the last page ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Keyset:
    """Position (``created_at``, ``id``) of the last row of a page, newest-first order."""

    created_at: datetime
    id: str
