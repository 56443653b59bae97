"""What a connector run is configured with (:class:`RunnerOptions`) and what it reports
(:class:`RunResult`, one :class:`StreamResult` per stream)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from connectors.base import Cursor
from connectors.state import DEFAULT_SEEN_CAPACITY, DEFAULT_STATE_DIR
from pipeline.core.bounds import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_FUTURE_S
from pipeline.core.kafka import DEFAULT_BOOTSTRAP
from pipeline.core.topics import DLQ, RAW_POSTS

__all__ = ["RunResult", "RunnerOptions", "StreamResult"]


@dataclass
class RunnerOptions:
    """Runner settings (the non-spec keys of a connector config file)."""

    bootstrap: str = DEFAULT_BOOTSTRAP
    topic: str = RAW_POSTS
    dlq_topic: str | None = DLQ
    state_dir: Path = DEFAULT_STATE_DIR
    instance: str | None = None
    """State namespace; defaults to the connector name (set it to run two configs of one connector)."""
    poll_interval_s: float = 60.0
    checkpoint_every: int = 500
    checkpoint_interval_s: float = 5.0
    seen_capacity: int = DEFAULT_SEEN_CAPACITY
    metrics_port: int | None = None
    create_topics: bool = True
    partitions: int = 4
    flush_timeout_s: float = 60.0
    max_items: int | None = None
    """Stop each stream after this many records (backfills, tests)."""
    idle_exit_s: float | None = None
    """Stop a stream when it yielded no record for this long (streaming sources, tests)."""
    post_max_future_s: float = DEFAULT_MAX_FUTURE_S
    """Dead-letter posts dated further in the future than this (as the worker's setting)."""
    post_max_age_days: float = DEFAULT_MAX_AGE_DAYS
    """Dead-letter posts older than this (as the worker's setting; raise it to backfill)."""

    @classmethod
    def config_keys(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], state_dir: Path | None = None) -> RunnerOptions:
        values = {k: v for k, v in config.items() if k in cls.config_keys()}
        if state_dir is not None:
            values["state_dir"] = state_dir
        if "state_dir" in values:
            values["state_dir"] = Path(values["state_dir"])
        return cls(**values)


@dataclass
class StreamResult:
    """What one stream did in a run."""

    name: str
    posts: int = 0
    duplicates: int = 0
    invalid: int = 0
    checkpoints: int = 0
    cursor: Cursor = None
    cursors: list[Cursor] = field(default_factory=list)
    """The cursor saved at each checkpoint, in order."""
    error: str | None = None


@dataclass
class RunResult:
    streams: list[StreamResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.streams)

    @property
    def errors(self) -> list[str]:
        return [f"{s.name}: {s.error}" for s in self.streams if s.error]

    def as_dict(self) -> dict[str, Any]:
        return {"streams": len(self.streams), "posts": self.total("posts"),
                "duplicates": self.total("duplicates"), "invalid": self.total("invalid"),
                "checkpoints": self.total("checkpoints"), "errors": len(self.errors)}
