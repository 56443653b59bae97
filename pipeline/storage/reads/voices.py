"""Emerging voices: the latest ranking snapshot of a subject (``emerging_voices``)."""

from __future__ import annotations

from pipeline.storage.backend import ClickHouse, Row


class VoiceReads:
    """Stored emerging-voices rankings."""

    def __init__(self, ch: ClickHouse) -> None:
        self._ch = ch

    def latest(self, subject: str, limit: int = 20) -> list[Row]:
        """The latest snapshot of ``subject``, best rank first."""
        return self._ch.query(
            """
            SELECT author_id, handle, rank, score, growth, reach, resonance, relevance, reasons, snapshot_at
            FROM emerging_voices FINAL
            WHERE subject_id = {subject:String}
              AND snapshot_at = (SELECT max(snapshot_at) FROM emerging_voices WHERE subject_id = {subject:String})
            ORDER BY rank
            LIMIT {limit:UInt32}
            """,
            {"subject": subject, "limit": limit},
        )
